"""The DP embedder chain through Dagster on a tiny encoder: registered DP versions with their guarantee,
retrieval metrics for base / non-DP / DP, and a run refused by the privacy budget before training."""

from dagster import AssetKey, RunConfig, materialize

from assets.embedder import DpEmbedderConfig
from assets.intent import IntentCatalogConfig, SyntheticIntentsConfig
from pipelines.definitions import all_assets
from training.privacy_ledger import TAGS

SELECTION = ["intent_catalog", "base_llm", "base_encoder", "synthetic_intents", "intent_dataset",
             "dp_embedder", "embedder_eval"]


def _run(resources, catalog, **dp):
    config = RunConfig(ops={
        "intent_catalog": IntentCatalogConfig(path=str(catalog)),
        "synthetic_intents": SyntheticIntentsConfig(paraphraser="none", per_intent_templates=40),
        "dp_embedder": DpEmbedderConfig(**{"epochs": 1, "batch_size": 32, **dp}),
    })
    return materialize([a for a in all_assets if a.key.path[0] in SELECTION], resources=resources,
                       run_config=config, raise_on_error=False)


def test_dp_embedder_registers_guarantees_evaluates_and_respects_the_budget(env, small_catalog):
    tmp, resources = env
    client = resources["mlflow"].client()

    first = _run(resources, small_catalog, target_epsilons=[2.0, 8.0], privacy_budget=12.0)
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    versions = client.search_model_versions("name = 'convbot-dp-embedder'")
    assert len(versions) == 2
    spent = sorted(float(v.tags[TAGS["epsilon"]]) for v in versions)
    assert 0 < spent[0] <= 2.0 * 1.01 and 2.0 < spent[1] <= 8.0 * 1.01
    assert {v.tags[TAGS["data_source"]] for v in versions} == {"intent_dataset/train"}
    meta = {e.asset_key: e.materialization.metadata for e in first.get_asset_materialization_events()}
    evaluation = first.output_for_node("embedder_eval")["metrics"]
    assert set(evaluation) == {"base", "no_dp", "dp_eps2.0", "dp_eps8.0"}
    assert all(0.0 <= m["mrr"] <= 1.0 for m in evaluation.values())
    assert "comparison" in meta[AssetKey("embedder_eval")]

    # the same run again costs nothing (no new training, nothing spent)
    again = _run(resources, small_catalog, target_epsilons=[2.0, 8.0], privacy_budget=12.0)
    assert again.success
    assert len(client.search_model_versions("name = 'convbot-dp-embedder'")) == 2

    # a new epsilon that does not fit in what is left is refused before training
    refused = _run(resources, small_catalog, target_epsilons=[4.0], privacy_budget=12.0)
    assert not refused.success
    error = next(e for e in refused.all_events if e.is_step_failure).event_specific_data.error.cause
    assert error.cls_name == "PrivacyBudgetExceeded"
    assert "privacy budget" in error.message and "is left and this run needs 4" in error.message
    assert len(client.search_model_versions("name = 'convbot-dp-embedder'")) == 2
