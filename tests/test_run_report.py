"""`make run`'s report: a failed gate is an outcome (exit 0, production untouched), a crashed step is not."""

from dagster import AssetCheckResult, DagsterInstance, asset, asset_check, materialize

from pipelines.run_report import latest_report

JOB = "__ephemeral_asset_job__"


@asset
def candidate() -> int:
    return 1


@asset_check(asset=candidate, blocking=True, description="a gate")
def candidate_gate(candidate: int) -> AssetCheckResult:
    return AssetCheckResult(passed=False, description="accuracy 0.81 fails > 0.92")


@asset
def promotion(candidate: int) -> int:
    return candidate


@asset
def broken() -> int:
    raise RuntimeError("disk full")


def test_a_failed_gate_is_reported_as_an_outcome(tmp_path):
    instance = DagsterInstance.ephemeral(tempdir=str(tmp_path))
    result = materialize([candidate, promotion, candidate_gate], instance=instance, raise_on_error=False)
    assert not result.success  # Dagster marks the run failed...
    report = latest_report(instance, JOB)
    assert report.ok  # ...but nothing crashed: the gate said no
    assert report.gates == [("candidate_gate", False, "accuracy 0.81 fails > 0.92")]
    assert report.gate_failures and not report.failures
    text = "\n".join(report.lines())
    assert "gate candidate_gate: FAILED - accuracy 0.81 fails > 0.92" in text and "stay where they were" in text


def test_a_crashed_step_fails_the_report(tmp_path):
    instance = DagsterInstance.ephemeral(tempdir=str(tmp_path))
    materialize([broken], instance=instance, raise_on_error=False)
    report = latest_report(instance, JOB)
    assert not report.ok and report.failures[0][0] == "broken"
    assert "disk full" in report.failures[0][1]
