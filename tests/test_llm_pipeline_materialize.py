"""The LLM-core chain through Dagster on a tiny teacher: dialogs -> student -> int8 -> evaluation,
with a real SQLite MLflow registry and a real DVC repository."""

import json
import subprocess
import sys

from dagster import AssetKey, RunConfig, materialize

from assets.intent import IntentCatalogConfig, SyntheticIntentsConfig
from assets.llm import DialogCorpusAssetConfig, LlmEvalAssetConfig, StudentLlmConfig
from pipelines.definitions import all_assets, all_checks
from serving.registry import CHALLENGER, alias_version

SELECTION = ["intent_catalog", "base_llm", "synthetic_intents", "intent_dataset",
             "dialog_corpus", "student_llm", "quantized_llm", "llm_eval"]


def llm_ops(catalog, draft="student_int8") -> dict:
    return {
        "intent_catalog": IntentCatalogConfig(path=str(catalog)),
        "synthetic_intents": SyntheticIntentsConfig(paraphraser="none", per_intent_templates=30),
        "dialog_corpus": DialogCorpusAssetConfig(per_intent=3, max_new_tokens=8),
        "student_llm": StudentLlmConfig(student_layers=1, overrides={
            "max_steps": 4, "eval_steps": 2, "save_steps": 2, "logging_steps": 1, "learning_rate": 1e-2}),
        "llm_eval": LlmEvalAssetConfig(speed_prompts=2, max_new_tokens=8, threads=1, draft=draft),
    }


def _run(resources, catalog, draft="student_int8"):
    config = RunConfig(ops=llm_ops(catalog, draft))
    assets = [a for a in all_assets if a.key.path[0] in SELECTION]
    checks = [c for c in all_checks if {k.asset_key.path[0] for k in c.check_keys} <= set(SELECTION)]
    return materialize([*assets, *checks], resources=resources, run_config=config, raise_on_error=False)


def test_llm_chain_distills_quantizes_evaluates_and_registers(env, small_catalog):
    tmp, resources = env
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

    # the teacher in int8 as the draft: a new evaluation, same exactness, a draft that agrees at least as often
    self_draft = _run(resources, small_catalog, draft="teacher_int8")
    assert self_draft.success, [e.message for e in self_draft.all_events if e.is_failure]
    report = self_draft.output_for_node("llm_eval")["report"]
    assert "teacher_int8" in report["draft_dir"] and report["speculative_identical"]
    assert self_draft.asset_materializations_for_node("llm_eval")[0].metadata["reused_evaluation"].value is False
    assert report["acceptance"]["acceptance_rate"] >= evaluation["acceptance_rate"].value
