"""The preference chain through Dagster on a tiny LLM: inbox -> redacted feedback -> DVC pairs -> DPO
adapter (registered) -> evaluation and its gate; and the sensor that starts it on new feedback."""

import json
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, DagsterInstance, RunConfig, build_sensor_context, materialize

from assets.preferences import DpoAdapterConfig, DpoEvalConfig, FeedbackLogConfig, feedback_inbox, feedback_sensor
from pipelines.definitions import all_assets, all_checks
from assets.gates import GateConfig
from serving.registry import CHALLENGER, alias_version, read_verdict
from tests.test_llm_pipeline_materialize import SELECTION as LLM_SELECTION
from tests.test_llm_pipeline_materialize import llm_ops
from training.feedback import synthetic_feedback

TINY = "tiny random model in a test"
# DPO trains on the student that passed llm_gate: the tiny LLM chain runs first
SELECTION = LLM_SELECTION + ["feedback_log", "preference_pairs", "dpo_adapter", "dpo_eval"]


def _run(resources, catalog, records=160):
    config = RunConfig(ops={
        **llm_ops(catalog),
        "feedback_log": FeedbackLogConfig(synthetic_records=records),
        "dpo_adapter": DpoAdapterConfig(overrides={"max_steps": 8, "learning_rate": 5e-3, "eval_steps": 4,
                                                   "save_steps": 4, "logging_steps": 2, "max_length": 96}),
        "dpo_eval": DpoEvalConfig(max_generate=4, max_new_tokens=8),
        # held-out pairs are unseen scenarios, beyond a tiny random model: the floor is lowered, with a reason
        "dpo_eval_dpo_preference_gate": GateConfig(thresholds={"preference_accuracy": 0.0}, override_reason=TINY),
    })
    assets = [a for a in all_assets if a.key.path[0] in SELECTION]
    checks = [c for c in all_checks if {k.asset_key.path[0] for k in c.check_keys} <= set(SELECTION)]
    return materialize([*assets, *checks], resources=resources, run_config=config, raise_on_error=False)


def test_preference_chain_redacts_versions_trains_registers_and_gates(env, small_catalog):
    tmp, resources = env
    result = _run(resources, small_catalog)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    gate = next(e for e in result.get_asset_check_evaluations() if e.check_name == "dpo_preference_gate")
    assert gate.passed, gate.description
    verdict = read_verdict(resources["mlflow"].client(), "convbot-dpo-adapter", "1", "dpo_preference_gate")
    assert verdict.override_reason == TINY and verdict.thresholds[0].value == 0.0

    meta = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
    feedback = meta[AssetKey("feedback_log")]
    assert feedback["quarantined_rows"].value > 0 and feedback["records"].value > 100
    assert feedback["redactions"].value.get("EMAIL", 0) > 0
    # no raw PII from the inbox anywhere the pipeline wrote: data, DVC cache and remote, quarantine,
    # MLflow (database with params and tags, artifacts), model folders, nor any Dagster event message
    inbox = feedback_inbox()
    raw_pii = [b"@example.com", b"4111 1111 1111 1111", b"5500 0000 0000 0004", b"GB82 WEST", b"DE89 3704",
               b"+1 415 555"]
    assert any(p in "\n".join(synthetic_feedback(160)).encode() for p in raw_pii), "the test needs PII in the inbox"
    assert not any(inbox.iterdir()), "the raw inbox file is deleted once its records are stored redacted"
    written = [f for f in tmp.rglob("*") if f.is_file()]
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
    # the base is the student version that passed llm_gate, referenced by registry URI (not a local path)
    assert run.data.tags["convbot.base"] == "models:/convbot-student-llm/1"
    flavors = resources["mlflow"].activate().models.get_model_info("models:/convbot-dpo-adapter/1").flavors
    assert flavors["python_function"]["config"] == {"base": "models:/convbot-student-llm/1"}
    assert 0.0 <= meta[AssetKey("dpo_eval")]["moved_toward_rate"].value <= 1.0
    assert (Path(result.output_for_node("dpo_eval")["merged_dir"]) / "config.json").exists()

    # the registered adapter loads in a fresh process with nothing of this machine's model store
    code = ("import json, sys, mlflow; mlflow.set_registry_uri(sys.argv[1]); mlflow.set_tracking_uri(sys.argv[1]); "
            "m = mlflow.pyfunc.load_model('models:/convbot-dpo-adapter@challenger'); "
            "print(json.dumps(m.predict(['reset my password'], params={'max_new_tokens': 4})))")
    hidden = tmp / "models-moved-away"
    (tmp / "models").rename(hidden)
    try:
        proc = subprocess.run([sys.executable, "-c", code, resources["mlflow"].tracking_uri],
                              capture_output=True, text=True, cwd=tmp, timeout=300)
    finally:
        hidden.rename(tmp / "models")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(json.loads(proc.stdout.strip().splitlines()[-1])) == 1

    # nothing changed: no new adapter version, the evaluation is reused
    again = _run(resources, small_catalog)
    assert again.success
    assert again.asset_materializations_for_node("feedback_log")[0].metadata["records_added"].value == 0
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
