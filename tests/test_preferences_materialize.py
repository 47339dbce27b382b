"""The preference chain through Dagster on a tiny LLM: inbox -> redacted feedback -> DVC pairs -> DPO
adapter (registered) -> evaluation and its gate; and the sensor that starts it on new feedback."""

from pathlib import Path

from dagster import AssetKey, DagsterInstance, RunConfig, build_sensor_context, materialize

from assets.preferences import DpoAdapterConfig, DpoEvalConfig, FeedbackLogConfig, feedback_inbox, feedback_sensor
from pipelines.definitions import all_assets, all_checks
from serving.registry import CHALLENGER, alias_version
from training.feedback import synthetic_feedback

SELECTION = ["base_llm", "feedback_log", "preference_pairs", "dpo_adapter", "dpo_eval"]


def _run(resources, records=160):
    config = RunConfig(ops={
        "feedback_log": FeedbackLogConfig(synthetic_records=records),
        "dpo_adapter": DpoAdapterConfig(overrides={"max_steps": 16, "learning_rate": 5e-3, "eval_steps": 8,
                                                   "save_steps": 8, "logging_steps": 2, "max_length": 96}),
        "dpo_eval": DpoEvalConfig(max_generate=4, max_new_tokens=8),
    })
    assets = [a for a in all_assets if a.key.path[0] in SELECTION]
    checks = [c for c in all_checks if {k.asset_key.path[0] for k in c.check_keys} <= set(SELECTION)]
    return materialize([*assets, *checks], resources=resources, run_config=config, raise_on_error=False)


def test_preference_chain_redacts_versions_trains_registers_and_gates(env):
    tmp, resources = env
    result = _run(resources)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    gate = next(e for e in result.get_asset_check_evaluations() if e.check_name == "dpo_preference_gate")
    assert gate.passed, gate.description

    meta = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
    feedback = meta[AssetKey("feedback_log")]
    assert feedback["quarantined_rows"].value > 0 and feedback["records"].value > 100
    assert feedback["redactions"].value.get("EMAIL", 0) > 0
    # no raw PII from the inbox anywhere the pipeline wrote: data, DVC cache and remote, quarantine,
    # MLflow (database with params and tags, artifacts), model folders, nor any Dagster event message
    inbox = feedback_inbox()
    raw_pii = [b"@example.com", b"4111 1111 1111 1111", b"5500 0000 0000 0004", b"GB82 WEST", b"DE89 3704",
               b"+1 415 555"]
    assert any(p in (inbox / "synthetic-0.jsonl").read_bytes() for p in raw_pii), "the test needs PII in the inbox"
    written = [f for f in tmp.rglob("*") if f.is_file() and inbox not in f.parents]
    for f in written:
        blob = f.read_bytes()
        leaked = [p for p in raw_pii if p in blob]
        assert not leaked, f"{leaked} in {f}"
    messages = " ".join(str(e.message) for e in result.all_events).encode()
    assert not [p for p in raw_pii if p in messages]
    assert (tmp / "repo" / "data" / "preferences" / "heldout.jsonl").exists()
    assert "data.dvc" in {p.name for p in (tmp / "repo").iterdir()}

    client = resources["mlflow"].client()
    assert alias_version(client, "convbot-dpo-adapter", CHALLENGER) == "1"
    run_id = result.output_for_node("dpo_adapter")["run_id"]
    run = client.get_run(run_id)
    assert "heldout_preference_accuracy" in run.data.metrics
    assert any(k.startswith("rewards_margins") for k in run.data.metrics)
    assert run.data.tags["convbot.base"] == result.output_for_node("base_llm")["spec"]  # no student registered: the teacher
    assert 0.0 <= meta[AssetKey("dpo_eval")]["moved_toward_rate"].value <= 1.0
    assert (Path(result.output_for_node("dpo_eval")["merged_dir"]) / "config.json").exists()

    # nothing changed: no new adapter version, the evaluation is reused
    again = _run(resources)
    assert again.success
    assert len(client.search_model_versions("name = 'convbot-dpo-adapter'")) == 1
    assert again.asset_materializations_for_node("dpo_eval")[0].metadata["reused_evaluation"].value is True


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
