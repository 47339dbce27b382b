"""The DP embedder chain through Dagster on a tiny encoder: every training reserved in the privacy ledger,
registered DP versions with their guarantee, retrieval metrics for base / non-DP / DP, and a run refused
by the project's budget before training."""

import shutil
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, AssetKey, RunConfig, materialize

from assets.embedder import DpEmbedderConfig
from assets.intent import IntentCatalogConfig, SyntheticIntentsConfig
from assets.gates import GateConfig
from evals.retrieval import paraphrase_task
from pipelines.definitions import all_assets, all_checks
from serving.registry import CHALLENGER, alias_version, read_verdict
from training.intent_dataset import load_split
from training.privacy_ledger import TAGS, PrivacyLedger

SELECTION = ["intent_catalog", "base_llm", "base_encoder", "synthetic_intents", "intent_dataset",
             "dp_embedder", "embedder_eval"]


TINY = GateConfig(thresholds={"recall_at_5_gain_vs_base_ci_low": -1.0, "recall_at_5_gap_to_no_dp": 1.0},
                  override_reason="tiny random encoder in a test")


def _run(resources, catalog, gate: GateConfig = TINY, **dp):
    dp.setdefault("release_epsilon", max(dp.get("target_epsilons", [8.0])))
    config = RunConfig(ops={
        "intent_catalog": IntentCatalogConfig(path=str(catalog)),
        "synthetic_intents": SyntheticIntentsConfig(paraphraser="none", per_intent_templates=40, variants_per_intent=0),
        "dp_embedder": DpEmbedderConfig(**{"epochs": 1, "batch_size": 32, **dp}),
        "embedder_eval_embedder_gate": gate,
    })
    checks = [c for c in all_checks if {k.asset_key.path[0] for k in c.check_keys} <= set(SELECTION)]
    return materialize([*[a for a in all_assets if a.key.path[0] in SELECTION], *checks], resources=resources,
                       run_config=config, raise_on_error=False)


def test_dp_embedder_reserves_in_the_ledger_registers_guarantees_and_respects_the_budget(env, small_catalog):
    tmp, resources = env
    client = resources["mlflow"].client()
    ledger = PrivacyLedger(client)

    first = _run(resources, small_catalog, target_epsilons=[2.0, 8.0])
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    versions = client.search_model_versions("name = 'convbot-dp-embedder'")
    assert len(versions) == 2
    spent = sorted(float(v.tags[TAGS["epsilon"]]) for v in versions)
    assert 0 < spent[0] <= 2.0 and 2.0 < spent[1] <= 8.0
    fingerprint = first.output_for_node("dp_embedder")["data_fingerprint"]
    assert {v.tags[TAGS["fingerprint"]] for v in versions} == {fingerprint}
    assert ledger.spent(fingerprint)[0] == pytest.approx(sum(spent), abs=1e-4)
    meta = {e.asset_key: e.materialization.metadata for e in first.get_asset_materialization_events()}
    evaluation = first.output_for_node("embedder_eval")["metrics"]
    assert set(evaluation) == {"base", "no_dp", "dp_eps2.0", "dp_eps8.0"}
    assert all(0.0 <= m["mrr"] <= 1.0 for m in evaluation.values())
    assert {"comparison", "utility_vs_epsilon"} <= set(meta[AssetKey("embedder_eval")])
    # every held-out utterance is in the pool the answers are ranked in; out-of-scope rows make no pair
    test = load_split(first.output_for_node("intent_dataset")["path"], "test")
    assert meta[AssetKey("embedder_eval")]["pool"].value == test["text"].nunique()
    assert meta[AssetKey("embedder_eval")]["pairs"].value == len(paraphrase_task(
        test["text"].tolist(), test["intent"].tolist(), 10, unpaired=frozenset({"out_of_scope"})))
    assert "ledger" in meta[AssetKey("dp_embedder")]
    gate = next(e for e in first.get_asset_check_evaluations() if e.check_name == "embedder_gate")
    assert gate.passed and alias_version(client, "convbot-dp-embedder", CHALLENGER) is not None
    # the non-private reference on the same data is never written to disk nor registered
    on_disk = [p for p in (tmp / "models").rglob("*.safetensors") if "dp_embedder" not in p.parts]
    assert on_disk == [], on_disk

    # the same run again costs nothing (no new training, nothing spent)
    again = _run(resources, small_catalog, target_epsilons=[2.0, 8.0])
    assert again.success
    assert len(client.search_model_versions("name = 'convbot-dp-embedder'")) == 2
    assert ledger.spent(fingerprint)[0] == pytest.approx(sum(spent), abs=1e-4)

    # a gate that fails moves no alias, and says the bot retrieves with the base encoder
    alias_before = alias_version(client, "convbot-dp-embedder", CHALLENGER)
    strict = _run(resources, small_catalog, GateConfig(thresholds={"recall_at_5_gap_to_no_dp": -1.0}),
                  target_epsilons=[2.0, 8.0])
    failed = next(e for e in strict.get_asset_check_evaluations() if e.check_name == "embedder_gate")
    # a warning, not a stop: the bot still ships, retrieving with the base encoder
    assert not failed.passed and failed.severity == AssetCheckSeverity.WARN and strict.success
    assert "base encoder" in failed.metadata["bot_retrieves_with"].value
    judged = strict.output_for_node("embedder_eval")["candidate"]["version"]
    assert not read_verdict(client, "convbot-dp-embedder", judged, "embedder_gate").passed
    assert alias_version(client, "convbot-dp-embedder", CHALLENGER) == alias_before  # left where it was

    # a run whose model folder is gone trains again, and that training is counted
    model_dir = Path(first.output_for_node("dp_embedder")["models"]["2.0"]["model_dir"])
    shutil.rmtree(model_dir)
    regrown = _run(resources, small_catalog, target_epsilons=[2.0])
    assert regrown.success
    after_regrow = ledger.spent(fingerprint)[0]
    assert after_regrow > sum(spent) + 1.0

    # deleting registered versions does not give the budget back
    for v in client.search_model_versions("name = 'convbot-dp-embedder'"):
        client.delete_model_version("convbot-dp-embedder", v.version)
    assert ledger.spent(fingerprint)[0] == pytest.approx(after_regrow)

    # a new epsilon that does not fit in what is left (project budget 20) is refused before training
    refused = _run(resources, small_catalog, target_epsilons=[20.0 - after_regrow + 1.0])
    assert not refused.success
    error = next(e for e in refused.all_events if e.is_step_failure).event_specific_data.error.cause
    assert error.cls_name == "PrivacyBudgetExceeded"
    assert "privacy budget" in error.message and "is left and this run needs" in error.message
    assert ledger.spent(fingerprint)[0] == pytest.approx(after_regrow)
