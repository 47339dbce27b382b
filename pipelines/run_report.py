"""What a finished run decided: each gate's verdict, what was skipped behind a failed gate, and real failures.

A failed gate is an outcome, not a crash: `make run` prints this report and exits 0 when every failure
of the run was a blocking gate (production stays where it was), 1 when a step itself failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ASSET_CHECK_FAILED = "DagsterAssetCheckFailedError"


@dataclass
class RunReport:
    run_id: str
    job: str
    status: str
    gates: list[tuple[str, bool, str]] = field(default_factory=list)  # (check, passed, description)
    gate_failures: list[str] = field(default_factory=list)  # steps stopped by a failed blocking check
    failures: list[tuple[str, str]] = field(default_factory=list)  # (step, error) of steps that crashed

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        out = [f"run {self.run_id} of {self.job}: {self.status}"]
        for name, passed, description in self.gates:
            out.append(f"  gate {name}: {'passed' if passed else 'FAILED'}" + (f" - {description}" if description else ""))
        if self.gate_failures:
            out.append("  failed gates stopped what depends on them; champion aliases stay where they were")
        for step, error in self.failures:
            out.append(f"  step {step} FAILED: {error}")
        return out


def latest_report(instance, job: str) -> RunReport:
    from dagster import RunsFilter

    runs = instance.get_runs(filters=RunsFilter(job_name=job), limit=1)
    if not runs:
        raise LookupError(f"no run of {job} in this Dagster instance")
    return run_report(instance, runs[0])


def run_report(instance, run) -> RunReport:
    from dagster import DagsterEventType

    report = RunReport(run.run_id, run.job_name, run.status.value)
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            report.gates.append((data.check_name, bool(data.passed), data.description or ""))
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            causes = [error, *(_chain(error))]
            if any(c.cls_name == ASSET_CHECK_FAILED for c in causes):
                report.gate_failures.append(event.step_key)
            else:
                root = causes[-1]  # Dagster wraps the asset's own error: report that one
                report.failures.append((event.step_key, f"{root.cls_name}: {root.message.strip()[:500]}"))
    return report


def _chain(error):
    while error is not None and error.cause is not None:
        error = error.cause
        yield error
