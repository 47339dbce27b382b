"""Append-only records kept as runs of one MLflow experiment: the alias history, the privacy ledger.

A record lives wherever the tracking server does, so every machine of a team sees the same history,
and people can browse it in the MLflow UI. Each record holds its fields as one JSON tag, the fields
also as searchable tags, and the hash of the record before it (a chain: an edited or removed record
shows up as a broken link). Records are never deleted by this code; reading includes runs deleted
in the UI (`ViewType.ALL`), so deleting one does not erase what it recorded.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

RECORD_TAG = "convbot.ledger.record"
HASH_TAG = "convbot.ledger.hash"
PREV_TAG = "convbot.ledger.prev_hash"
FIELD_PREFIX = "convbot.ledger."


@dataclass(frozen=True)
class Record:
    id: str  # the MLflow run id
    fields: dict[str, Any]
    status: str  # RUNNING (open, e.g. a privacy reservation), FINISHED, FAILED, KILLED
    started_ms: int
    hash: str
    prev_hash: str
    deleted: bool
    outcome: dict[str, Any]  # what `close` added (e.g. the epsilon a training actually spent)


def _outcome(tags: dict[str, str]) -> dict[str, Any]:
    prefix = f"{FIELD_PREFIX}outcome."
    return {k.removeprefix(prefix): json.loads(v) for k, v in tags.items() if k.startswith(prefix)}


def record_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    blob = json.dumps({"prev": prev_hash, "fields": fields}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


class MlflowLedger:
    def __init__(self, client, experiment: str, artifact_location: str | None = None):
        self.client, self.experiment = client, experiment
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            from mlflow.exceptions import MlflowException

            try:
                self.experiment_id = client.create_experiment(experiment, artifact_location=artifact_location)
            except MlflowException:  # created by a concurrent writer in between
                self.experiment_id = client.get_experiment_by_name(experiment).experiment_id
        else:
            self.experiment_id = exp.experiment_id

    def records(self, **match: str) -> list[Record]:
        """Every record (deleted runs included), oldest first; `match` filters on string fields."""
        from mlflow.entities import ViewType

        query = " and ".join(f"tags.`{FIELD_PREFIX}{k}` = '{v}'" for k, v in match.items())
        out, token = [], None
        while True:
            page = self.client.search_runs([self.experiment_id], query, run_view_type=ViewType.ALL,
                                           max_results=1000, order_by=["attributes.start_time ASC"], page_token=token)
            for run in page:
                tags = run.data.tags
                if RECORD_TAG not in tags:
                    continue
                out.append(Record(run.info.run_id, json.loads(tags[RECORD_TAG]), run.info.status, run.info.start_time,
                                  tags.get(HASH_TAG, ""), tags.get(PREV_TAG, ""), run.info.lifecycle_stage == "deleted",
                                  _outcome(tags)))
            token = page.token
            if not token:
                break
        return sorted(out, key=lambda r: (r.started_ms, r.fields.get("seq", 0)))

    def append(self, fields: dict[str, Any], run_name: str, open_: bool = False) -> Record:
        """Write one record; `open_` leaves it RUNNING until `close` (a reservation that a crash keeps)."""
        previous = self.records()
        prev_hash = previous[-1].hash if previous else ""
        fields = {**fields, "seq": len(previous), "recorded_at": time.time()}
        digest = record_hash(prev_hash, fields)
        tags = {RECORD_TAG: json.dumps(fields, sort_keys=True, default=str), HASH_TAG: digest, PREV_TAG: prev_hash,
                **{f"{FIELD_PREFIX}{k}": str(v) for k, v in fields.items() if isinstance(v, (str, int, float, bool))}}
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=run_name)
        status = "RUNNING"
        if not open_:
            self.client.set_terminated(run.info.run_id, "FINISHED")
            status = "FINISHED"
        return Record(run.info.run_id, fields, status, run.info.start_time, digest, prev_hash, False, {})

    def close(self, record: Record, outcome: dict[str, Any], status: str = "FINISHED") -> None:
        """Settle an open record: its outcome is added as tags (the original fields stay as written)."""
        for k, v in outcome.items():
            self.client.set_tag(record.id, f"{FIELD_PREFIX}outcome.{k}", json.dumps(v, default=str))
        self.client.set_terminated(record.id, status)

    def broken_links(self) -> list[str]:
        """Ids of records whose hash does not follow from the record before them."""
        bad, prev = [], ""
        for r in self.records():
            if r.prev_hash != prev or record_hash(r.prev_hash, r.fields) != r.hash:
                bad.append(r.id)
            prev = r.hash
        return bad
