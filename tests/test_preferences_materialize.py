"""The feedback inbox and the sensor that starts the preference chain on new feedback (the chain itself,
on the LLM chain's state, is in test_llm_pipeline_materialize)."""

import json

from dagster import DagsterInstance, RunConfig, build_sensor_context, materialize

from assets.preferences import FeedbackLogConfig, feedback_inbox, feedback_sensor
from pipelines.definitions import all_assets
from training.feedback import synthetic_feedback


def test_sensor_requests_a_refresh_only_when_the_inbox_changes(env):
    tmp, _ = env
    instance = DagsterInstance.ephemeral()
    ctx = build_sensor_context(instance=instance)
    assert "no feedback files" in feedback_sensor(ctx).skip_message

    inbox = feedback_inbox()
    inbox.mkdir(parents=True)
    (inbox / "day1.jsonl").write_text("\n".join(synthetic_feedback(5)) + "\n")
    first = feedback_sensor(ctx)
    assert first.run_key
    again = feedback_sensor(build_sensor_context(instance=instance, cursor=ctx.cursor))
    assert "no new feedback" in again.skip_message
    (inbox / "day2.jsonl").write_text("\n".join(synthetic_feedback(5, seed=2)) + "\n")
    second = feedback_sensor(build_sensor_context(instance=instance, cursor=ctx.cursor))
    assert second.run_key and second.run_key != first.run_key


def test_feedback_accumulates_and_the_raw_inbox_is_not_kept(env):
    tmp, resources = env
    inbox = feedback_inbox()
    inbox.mkdir(parents=True)
    lines = synthetic_feedback(30, seed=5, malformed_fraction=0.0)
    (inbox / "day1.jsonl").write_text("\n".join(lines[:20]) + "\n")
    only_feedback = [a for a in all_assets if a.key.path[0] == "feedback_log"]
    config = RunConfig(ops={"feedback_log": FeedbackLogConfig(synthetic_records=0)})
    first = materialize(only_feedback, resources=resources, run_config=config)
    assert first.asset_materializations_for_node("feedback_log")[0].metadata["records"].value == 20
    assert list(inbox.iterdir()) == []
    (inbox / "day2.jsonl").write_text("\n".join(lines[20:]) + "\n")
    second = materialize(only_feedback, resources=resources, run_config=config)
    meta = second.asset_materializations_for_node("feedback_log")[0].metadata
    assert meta["records"].value == 30 and meta["records_added"].value == 10
    card = json.loads((tmp / "repo" / "data" / "feedback" / "feedback_card.json").read_text())
    assert sorted(s["records"] for s in card["sources"].values()) == [10, 20]
    # a file already stored (a run killed before deleting it) is not added twice
    (inbox / "day2-again.jsonl").write_text("\n".join(lines[20:]) + "\n")
    third = materialize(only_feedback, resources=resources, run_config=config)
    assert third.asset_materializations_for_node("feedback_log")[0].metadata["records"].value == 30
    assert list(inbox.iterdir()) == []
