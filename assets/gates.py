"""The one way a gate runs in Dagster: decide, record the verdict on each judged version, then `challenger`."""

from __future__ import annotations

import time
from typing import Optional

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, Config, MetadataValue
from pydantic import Field

from evals.gate import PairedDifference, Verdict, decide, load_gate_specs, resolve_regression, resolve_thresholds
from pipelines.resources import MlflowResource
from serving.registry import CHALLENGER, PromotionRefused, is_rolled_back, move_alias, record_verdict
from training.lineage import code_version


class GateConfig(Config):
    thresholds: dict[str, float] = Field(
        default={}, description="stricter thresholds for this run, e.g. {accuracy: 0.95}; floors: configs/gates.yaml")
    override_reason: str = Field(
        default="", description="why a threshold below the project floor is acceptable (recorded in the verdict)")
    regression_tolerance: Optional[float] = Field(
        default=None, description="drop allowed below the paired interval against the champion (gates with a "
                                  "regression rule); above the project's, override_reason is required")


def run_gate(context: AssetCheckExecutionContext, mlflow: MlflowResource, gate: str, config: GateConfig,
             judged: list[tuple[str, str]], metrics: dict[str, float], data_version: str,
             comparison: PairedDifference | None = None, extra_metadata: dict | None = None) -> AssetCheckResult:
    """Decide `gate` on `metrics`, record the verdict on every judged (model, version), and give each
    version `challenger` when it passed (unless it was rolled back)."""
    spec = resolve_regression(load_gate_specs()[gate], config.regression_tolerance, config.override_reason)
    thresholds = resolve_thresholds(spec, config.thresholds, config.override_reason)
    decision = decide(spec, thresholds, metrics, comparison)
    client = mlflow.client()
    code = code_version().label
    challengers, skipped = [], []
    for name, version in judged:
        verdict = Verdict(gate, name, str(version), decision.passed, metrics, thresholds, tuple(decision.reasons),
                          data_version, code, time.time(), config.override_reason, f"dagster run {context.run.run_id}")
        record_verdict(client, verdict)
        if not decision.passed:
            continue
        if is_rolled_back(client, name, str(version)):
            skipped.append(f"{name} v{version} was rolled back: it stays without an alias until a person promotes it")
            continue
        try:
            move_alias(client, name, CHALLENGER, str(version), actor=f"dagster run {context.run.run_id}",
                       reason=f"{gate} passed")
            challengers.append(f"{name} v{version}")
        except PromotionRefused as exc:
            skipped.append(str(exc))
    for line in skipped:
        context.log.warning(line)
    return AssetCheckResult(
        passed=decision.passed, severity=AssetCheckSeverity.ERROR, description=decision.summary(),
        metadata={**{k: float(v) for k, v in metrics.items()},
                  "thresholds": ", ".join(t.describe() for t in thresholds),
                  "override_reason": config.override_reason or "none",
                  "verdict_recorded_on": ", ".join(f"{n} v{v}" for n, v in judged),
                  "challenger": ", ".join(challengers) or "none",
                  "reasons": MetadataValue.md("\n".join(f"- {r}" for r in [*decision.reasons, *skipped])),
                  **(extra_metadata or {})},
    )


def warn_when_failed(result: AssetCheckResult, **metadata) -> AssetCheckResult:
    """A gate whose failure the bot survives on a fallback (the teacher, the base encoder): a failed verdict is a
    WARN, so the assets after it still run and read the recorded verdict; a passed one stays as it was."""
    return AssetCheckResult(passed=result.passed, severity=AssetCheckSeverity.ERROR if result.passed else
                            AssetCheckSeverity.WARN, description=result.description,
                            metadata={**result.metadata, **metadata})
