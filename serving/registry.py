"""Aliases in the MLflow model registry, moved only on a recorded, passed gate verdict, with a history.

- A gate writes its `Verdict` on the model version it judged (tag `convbot.verdict.<gate>`).
- `move_alias` is the one way an alias moves. It re-reads that verdict for the exact version and
  refuses when it is missing, failed, incomplete, or judged with thresholds below today's floors
  (`configs/gates.yaml`) without a recorded override; whatever run or command asks.
- A version that was rolled back is never given an alias again unless a person names it
  (`explicit=True`, the `promote` command).
- Every move is appended to one alias history (an MLflow experiment, so a team shares it):
  model, alias, from, to, when, who (Dagster run or command) and why.
"""

from __future__ import annotations

import json
import time

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from evals.gate import GateSpec, Verdict, check_floors, gate_for_model, load_gate_specs
from training.errors import ConvbotError
from training.ledger import MlflowLedger

CHAMPION = "champion"
CHALLENGER = "challenger"
VERDICT_TAG = "convbot.verdict.{gate}"
PASSED_TAG = "convbot.verdict.{gate}.passed"
ROLLED_BACK_TAG = "convbot.rolled_back_at"
HISTORY_EXPERIMENT = "convbot-alias-history"


class PromotionRefused(ConvbotError):
    """An alias move that the recorded gate verdict does not allow."""


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version behind an alias, or None when the model or alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def record_verdict(client: MlflowClient, verdict: Verdict) -> None:
    """Write a gate's verdict on the version it judged (the record promotion reads)."""
    missing = verdict.missing()
    if missing:
        raise ValueError(f"verdict of {verdict.gate} for {verdict.model} v{verdict.version} lacks {missing}")
    client.set_model_version_tag(verdict.model, verdict.version, VERDICT_TAG.format(gate=verdict.gate),
                                 json.dumps(verdict.to_dict(), sort_keys=True))
    client.set_model_version_tag(verdict.model, verdict.version, PASSED_TAG.format(gate=verdict.gate),
                                 str(verdict.passed).lower())


def read_verdict(client: MlflowClient, name: str, version: str, gate: str) -> Verdict | None:
    tags = client.get_model_version(name, version).tags or {}
    raw = tags.get(VERDICT_TAG.format(gate=gate))
    return Verdict.from_dict(json.loads(raw)) if raw else None


def is_rolled_back(client: MlflowClient, name: str, version: str) -> bool:
    return ROLLED_BACK_TAG in (client.get_model_version(name, version).tags or {})


def history(client: MlflowClient) -> MlflowLedger:
    return MlflowLedger(client, HISTORY_EXPERIMENT)


def verify_promotable(client: MlflowClient, name: str, version: str, spec: GateSpec | None = None,
                      explicit: bool = False) -> Verdict:
    """The passed verdict that allows `version` an alias; raises PromotionRefused saying what is missing."""
    spec = spec or gate_for_model(name)
    where = f"{name} version {version}"
    verdict = read_verdict(client, name, version, spec.name)
    if verdict is None:
        raise PromotionRefused(f"{where} has no recorded verdict of gate '{spec.name}': run the gate "
                               f"(asset check {spec.name}) on this version first")
    if (verdict.model, verdict.version) != (name, str(version)):
        raise PromotionRefused(f"{where}: the recorded verdict is for {verdict.model} version {verdict.version}")
    missing = verdict.missing()
    if missing:
        raise PromotionRefused(f"{where}: the verdict of '{spec.name}' does not record {', '.join(missing)}")
    if not verdict.passed:
        raise PromotionRefused(f"{where} failed gate '{spec.name}': " + "; ".join(verdict.reasons))
    below = check_floors(spec, verdict.thresholds)
    if below and not verdict.override_reason:
        raise PromotionRefused(f"{where} passed '{spec.name}' with thresholds below the project floors ("
                               + "; ".join(below) + ") and no recorded override reason")
    if is_rolled_back(client, name, version) and not explicit:
        raise PromotionRefused(f"{where} was rolled back; it gets an alias again only when a person names it "
                               f"(python -m pipelines.cli promote --model {name} --version {version} --reason ...)")
    return verdict


def move_alias(client: MlflowClient, name: str, alias: str, version: str, *, actor: str, reason: str,
               explicit: bool = False, specs: dict[str, GateSpec] | None = None) -> str | None:
    """Point `alias` at `version` after re-checking its verdict; record the move. Returns the previous
    version (unchanged when the alias already points there, and then nothing is recorded)."""
    spec = gate_for_model(name, specs if specs is not None else load_gate_specs())
    verdict = verify_promotable(client, name, str(version), spec, explicit)
    previous = alias_version(client, name, alias)
    if previous == str(version):
        return previous
    client.set_registered_model_alias(name, alias, str(version))
    reinstated = explicit and is_rolled_back(client, name, str(version))
    if reinstated:
        client.delete_model_version_tag(name, str(version), ROLLED_BACK_TAG)
    _record(client, name, alias, previous, str(version), actor, reason, verdict, reinstated=reinstated)
    return previous


def _record(client, name, alias, previous, version, actor, reason, verdict: Verdict | None, **extra) -> None:
    fields = {"model": name, "alias": alias, "from": previous or "", "to": version or "", "actor": actor,
              "reason": reason, **extra}
    if verdict is not None:
        fields.update({"gate": verdict.gate, "gate_passed": verdict.passed, "gate_metrics": verdict.metrics,
                       "override_reason": verdict.override_reason, "data_version": verdict.data_version,
                       "code_version": verdict.code_version})
    history(client).append(fields, run_name=f"{name}@{alias}: {previous or '-'} -> {version or '-'}")


def champion_history(client: MlflowClient, name: str) -> list[str]:
    """Versions that have held `champion` and are not rolled back, in the order they got it."""
    order: list[str] = []
    for r in history(client).records(model=name, alias=CHAMPION):
        to = r.fields.get("to")
        if to:
            order = [v for v in order if v != to] + [to]
    return [v for v in order if not is_rolled_back(client, name, v)]


def restore_previous_champion(client: MlflowClient, name: str, *, actor: str = "cli restore-champion",
                              reason: str = "rolled back by a person",
                              specs: dict[str, GateSpec] | None = None) -> tuple[str, str]:
    """Mark the current champion rolled back and move `champion` to the previous one; returns (from, to)."""
    current = alias_version(client, name, CHAMPION)
    if current is None:
        raise PromotionRefused(f"registered model '{name}' has no '{CHAMPION}' alias to roll back")
    earlier = [v for v in champion_history(client, name) if v != current]
    if not earlier:
        raise PromotionRefused(f"'{name}' version {current} is the only champion so far: nothing to restore")
    target = earlier[-1]
    verdict = verify_promotable(client, name, target, gate_for_model(name, specs))
    # mark first: a rollback killed in between is finished by the next one, never reversed
    client.set_model_version_tag(name, current, ROLLED_BACK_TAG, f"{time.time():.6f}")
    client.set_registered_model_alias(name, CHAMPION, target)
    _record(client, name, CHAMPION, current, target, actor, reason, verdict, rollback=True)
    return current, target


def format_history(client: MlflowClient, model: str | None = None) -> list[str]:
    """One line per alias move, oldest first."""
    lines = []
    records = history(client).records(**({"model": model} if model else {}))
    for r in records:
        f = r.fields
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(f.get("recorded_at", r.started_ms / 1000)))
        gate = f" [{f['gate']} {'passed' if f.get('gate_passed') else 'FAILED'}]" if f.get("gate") else ""
        override = f" override: {f['override_reason']}" if f.get("override_reason") else ""
        lines.append(f"{when}Z  {f['model']}@{f['alias']}: {f['from'] or '-'} -> {f['to'] or '-'}  "
                     f"by {f['actor']}: {f['reason']}{gate}{override}")
    return lines
