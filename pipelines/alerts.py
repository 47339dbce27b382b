"""A run that fails is announced: to a webhook when CONVBOT_ALERT_WEBHOOK is set (Slack-style JSON), always
in the daemon's log. A failed gate is not a run failure to alert on: its check says why in the UI."""

from __future__ import annotations

import os

from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

from .run_report import ASSET_CHECK_FAILED


def failure_message(context: RunFailureSensorContext) -> str | None:
    """None when every failed step was a blocking gate (an outcome, not a failure)."""
    steps = [e for e in context.get_step_failure_events()]
    crashed = [e for e in steps if ASSET_CHECK_FAILED not in _causes(e.event_specific_data.error)]
    if steps and not crashed:
        return None
    names = ", ".join(e.step_key for e in crashed) or "the run itself"
    return f"convbot: run {context.dagster_run.run_id[:8]} of {context.dagster_run.job_name} failed at {names}"


def _causes(error) -> str:
    names = []
    while error is not None:
        names.append(error.cls_name)
        error = error.cause
    return " ".join(names)


@run_failure_sensor(default_status=DefaultSensorStatus.STOPPED, minimum_interval_seconds=30,
                    description="Alerts (webhook CONVBOT_ALERT_WEBHOOK, else the log) when a run fails for a reason "
                                "other than a gate saying no.")
def run_failure_alert(context: RunFailureSensorContext):
    message = failure_message(context)
    if message is None:
        return
    context.log.error(message)
    webhook = os.environ.get("CONVBOT_ALERT_WEBHOOK", "")
    if webhook:
        import httpx

        httpx.post(webhook, json={"text": message}, timeout=10)
