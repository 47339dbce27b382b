"""The LLM-core chain through Dagster on a tiny teacher: dialogs -> student -> int8 -> evaluation, and
the preference chain on the student that passed: inbox -> redacted feedback -> DVC pairs -> DPO adapter
(registered) -> evaluation and its gate; with a real SQLite MLflow registry and a real DVC repository.

Both chains share one state, as in a project: the preference chain's own run of the LLM assets is the
unchanged re-run that reuses them (on its own it would train and evaluate them first)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, RunConfig, materialize

from assets.gates import GateConfig
from assets.intent import IntentCatalogConfig, SyntheticIntentsConfig
from assets.llm import DialogCorpusAssetConfig, LlmEvalAssetConfig, StudentLlmConfig
from assets.preferences import DpoAdapterConfig, DpoEvalConfig, FeedbackLogConfig, feedback_inbox
from pipelines.definitions import all_assets, all_checks
from serving.registry import CHALLENGER, alias_version, read_verdict
from tests.chain_resources import chain_resources
from training.feedback import synthetic_feedback

SELECTION = ["intent_catalog", "base_llm", "synthetic_intents", "intent_dataset",
             "dialog_corpus", "student_llm", "quantized_llm", "llm_eval"]
# DPO trains on the student that passed llm_gate: the LLM chain runs (or is reused) first
PREFERENCE_SELECTION = SELECTION + ["feedback_log", "preference_pairs", "dpo_adapter", "dpo_eval"]
TINY = "tiny random model in a test"
SELF_DRAFT = "teacher_int8"  # the LLM chain's last configuration in this module


@pytest.fixture(scope="module")
def chain(tmp_path_factory, tiny_encoder, tiny_llm):
    """(tmp, resources): one project state for both chains."""
    tmp = tmp_path_factory.mktemp("chains")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONVBOT_STATE", str(tmp / "state"))
        yield tmp, chain_resources(tmp, tiny_encoder, tiny_llm)


def llm_ops(catalog, draft="student_int8", student_ratio: float | None = None) -> dict:
    # a tiny student of a tiny random teacher: its perplexity ratio says nothing, so each test sets the floor
    # (lifted, with a reason, unless a test asks for a stricter one)
    gate = (GateConfig(thresholds={"student_perplexity_ratio": 1e9}, override_reason=TINY) if student_ratio is None
            else GateConfig(thresholds={"student_perplexity_ratio": student_ratio}))
    return {
        "llm_eval_llm_gate": gate,
        "intent_catalog": IntentCatalogConfig(path=str(catalog)),
        "synthetic_intents": SyntheticIntentsConfig(paraphraser="none", per_intent_templates=30, variants_per_intent=0),
        "dialog_corpus": DialogCorpusAssetConfig(per_intent=3, max_new_tokens=8),
        "student_llm": StudentLlmConfig(student_layers=1, overrides={
            "max_steps": 4, "eval_steps": 2, "save_steps": 2, "logging_steps": 1, "learning_rate": 1e-2}),
        "llm_eval": LlmEvalAssetConfig(speed_prompts=2, max_new_tokens=8, threads=1, draft=draft),
    }


def _materialize(resources, selection: list[str], ops: dict):
    assets = [a for a in all_assets if a.key.path[0] in selection]
    checks = [c for c in all_checks if {k.asset_key.path[0] for k in c.check_keys} <= set(selection)]
    return materialize([*assets, *checks], resources=resources, run_config=RunConfig(ops=ops), raise_on_error=False)


def _run(resources, catalog, draft="student_int8"):
    return _materialize(resources, SELECTION, llm_ops(catalog, draft))


def _run_preferences(resources, catalog, records=160, student_ratio: float | None = None, base: str = "auto"):
    return _materialize(resources, PREFERENCE_SELECTION, {
        **llm_ops(catalog, SELF_DRAFT, student_ratio),
        "feedback_log": FeedbackLogConfig(synthetic_records=records),
        "dpo_adapter": DpoAdapterConfig(base=base, overrides={"max_steps": 8, "learning_rate": 5e-3, "eval_steps": 4,
                                                              "save_steps": 4, "logging_steps": 2, "max_length": 96}),
        "dpo_eval": DpoEvalConfig(max_generate=4, max_new_tokens=8),
        # held-out pairs are unseen scenarios, beyond a tiny random model: the floor is lowered, with a reason
        "dpo_eval_dpo_preference_gate": GateConfig(thresholds={"preference_accuracy": 0.0}, override_reason=TINY),
    })


def test_llm_chain_distills_quantizes_evaluates_and_registers(chain, small_catalog):
    tmp, resources = chain
    client = resources["mlflow"].client()

    result = _run(resources, small_catalog)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "llm_gate")
    assert check.passed

    assert alias_version(client, "convbot-student-llm", CHALLENGER) == "1"
    assert alias_version(client, "convbot-student-llm-int8", CHALLENGER) == "1"
    student = result.output_for_node("student_llm")
    run = client.get_run(student["run_id"])
    assert run.data.params["student_layers"] == "1"
    assert run.data.tags["convbot.data_version"] == result.output_for_node("dialog_corpus")["data_version"]
    history = client.get_metric_history(student["run_id"], "loss")
    assert len(history) >= 3, "training curve not logged step by step"
    plots = {a.path for a in client.list_artifacts(student["run_id"], "plots")}
    assert {"plots/distill_curves.png", "plots/llm_core_comparison.png"} <= plots
    for key in ("eval.teacher.perplexity", "eval.student.perplexity", "eval.student_int8.perplexity",
                "eval.draft.acceptance_rate", "eval.teacher_plus_int8_draft.tokens_per_s", "eval.student_int8.peak_rss_mb"):
        assert key in run.data.metrics, key

    meta = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
    evaluation = meta[AssetKey("llm_eval")]
    assert 0.0 <= evaluation["acceptance_rate"].value <= 1.0
    assert evaluation["speculative_identical"].value is True
    assert evaluation["teacher_perplexity"].value > 1.0
    assert meta[AssetKey("quantized_llm")]["linear_compression"].value > 3.0

    # the registered int8 model is an MLflow pyfunc that a fresh process loads and runs from the registry
    code = ("import json, sys, mlflow; mlflow.set_registry_uri(sys.argv[1]); mlflow.set_tracking_uri(sys.argv[1]); "
            "m = mlflow.pyfunc.load_model('models:/convbot-student-llm-int8@challenger'); "
            "print(json.dumps(m.predict(['what is the weather in oslo'], params={'max_new_tokens': 4})))")
    proc = subprocess.run([sys.executable, "-c", code, resources["mlflow"].tracking_uri],
                          capture_output=True, text=True, cwd=tmp, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    replies = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(replies) == 1 and isinstance(replies[0], str)

    # nothing changed: no retraining, no new registered versions
    again = _run(resources, small_catalog)
    assert again.success
    assert again.asset_materializations_for_node("llm_eval")[0].metadata["reused_evaluation"].value is True
    for name in ("convbot-student-llm", "convbot-student-llm-int8"):
        assert len(client.search_model_versions(f"name = '{name}'")) == 1, name

    # the teacher in int8 as the draft: a new evaluation, same exactness. (How often it agrees with the teacher,
    # against the student draft, is a property of real models; two tiny random ones gave either order.)
    self_draft = _run(resources, small_catalog, draft=SELF_DRAFT)
    assert self_draft.success, [e.message for e in self_draft.all_events if e.is_failure]
    report = self_draft.output_for_node("llm_eval")["report"]
    assert "teacher_int8" in report["draft_dir"] and report["speculative_identical"]
    assert self_draft.asset_materializations_for_node("llm_eval")[0].metadata["reused_evaluation"].value is False
    assert 0.5 <= report["acceptance"]["acceptance_rate"] <= 1.0  # the teacher's own int8 copy: mostly agrees


def test_preference_chain_redacts_versions_trains_registers_and_gates(chain, small_catalog):
    tmp, resources = chain
    result = _run_preferences(resources, small_catalog)
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
    again = _run_preferences(resources, small_catalog)
    assert again.success
    assert again.asset_materializations_for_node("feedback_log")[0].metadata["records_added"].value == 0
    assert len(client.search_model_versions("name = 'convbot-dpo-adapter'")) == 1
    assert again.asset_materializations_for_node("dpo_eval")[0].metadata["reused_evaluation"].value is True


def test_a_student_that_fails_llm_gate_is_not_served_dpo_trains_on_the_teacher(chain, small_catalog):
    """The same state after the preference chain: a floor no student meets (perplexity at most 0x the teacher's).
    The gate fails as a warning, the student keeps no new alias, and the adapter (and so the bot) uses the teacher;
    asked for the student by name, the run stops and says why."""
    tmp, resources = chain
    client = resources["mlflow"].client()
    result = _run_preferences(resources, small_catalog, student_ratio=0.0)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    gate = next(e for e in result.get_asset_check_evaluations() if e.check_name == "llm_gate")
    assert not gate.passed and gate.severity.value == "WARN"
    assert "teacher" in gate.metadata["bot_generates_with"].value
    assert not read_verdict(client, "convbot-student-llm", "1", "llm_gate").passed

    adapter = result.output_for_node("dpo_adapter")
    teacher = result.output_for_node("base_llm")
    assert adapter["base"] == teacher["spec"] and adapter["base_dir"] == teacher["path"]
    assert "failed gate 'llm_gate'" in adapter["base_reason"]
    run = client.get_run(adapter["run_id"])
    assert run.data.tags["convbot.base"] == teacher["spec"]
    assert len(client.search_model_versions("name = 'convbot-dpo-adapter'")) == 2, "a new adapter, on the teacher"
    assert result.output_for_node("dpo_eval")["base"] == teacher["spec"]

    strict = _run_preferences(resources, small_catalog, student_ratio=0.0, base="student")
    assert not strict.success
    error = next(e for e in strict.all_events if e.is_step_failure).event_specific_data.error.cause
    assert error.cls_name == "PromotionRefused" and "failed gate 'llm_gate'" in error.message
