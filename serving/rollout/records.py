"""The rollout's decision records: one per stage decision, each holding the hash of the one before.

Kept in the MLflow experiment `convbot-rollouts` (shared like the registry; deleted runs still read),
and at the end of a rollout also logged to the bundle's MLflow run as `rollout_records.json`.
"""

from __future__ import annotations

from training.ledger import MlflowLedger, Record

ROLLOUT_EXPERIMENT = "convbot-rollouts"


class RolloutRecords:
    def __init__(self, client):
        self.ledger = MlflowLedger(client, ROLLOUT_EXPERIMENT)

    def append(self, record: dict) -> Record:
        name = f"{record.get('bundle')} v{record.get('version')} stage {record.get('stage')}: {record.get('verdict')}"
        return self.ledger.append(record, run_name=name)

    def for_version(self, model: str, version: str) -> list[Record]:
        return self.ledger.records(bundle=model, version=str(version))

    def all(self) -> list[Record]:
        return self.ledger.records()

    def broken_links(self) -> list[str]:
        return self.ledger.broken_links()


def format_records(records: list[Record]) -> list[str]:
    import time

    out = []
    for r in records:
        f = r.fields
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(f.get("finished_at") or r.started_ms / 1000))
        out.append(f"{when}Z  {f.get('bundle')} v{f.get('version')}  stage {f.get('stage')} (weight "
                   f"{f.get('weight')}%): {f.get('verdict')}  samples {f.get('samples')}  {f.get('reason', '')}")
    return out
