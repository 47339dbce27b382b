"""The code location loads as `dagster dev` would load it, with the expected graph and wiring."""

from dagster import AssetKey, DefaultScheduleStatus

from pipelines.definitions import defs
from pipelines.resources import DvcResource, MlflowResource, ModelStoreResource

CHAIN = ["base_encoder", "base_llm", "intent_catalog", "synthetic_intents", "intent_dataset", "intent_model",
         "intent_eval", "intent_champion"]


def test_job_covers_the_chain_and_schedule_is_stopped():
    job = defs.resolve_job_def("intent_pipeline")
    assert {AssetKey(k) for k in CHAIN} <= set(job.asset_layer.executable_asset_keys)
    schedule = defs.resolve_schedule_def("weekly_retrain")
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == "0 3 * * 1"


def test_graph_edges_and_blocking_checks():
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in graph.get_all_asset_keys()}
    assert parents["synthetic_intents"] == {"intent_catalog", "base_llm"}
    assert parents["intent_model"] == {"intent_dataset", "base_encoder"}
    assert parents["intent_champion"] == {"intent_eval"}
    assert parents["dialog_corpus"] == {"intent_dataset", "base_llm"}
    assert parents["llm_eval"] == {"base_llm", "student_llm", "quantized_llm", "dialog_corpus"}
    # DPO trains on the student that passed llm_gate (a check on llm_eval), else on the teacher (base_llm)
    assert parents["dpo_adapter"] == {"preference_pairs", "base_llm", "llm_eval"}
    assert parents["dp_embedder"] == {"intent_dataset", "base_encoder"}
    from pipelines.definitions import all_checks

    specs = {spec.name: spec for c in all_checks for spec in c.check_specs}
    assert set(specs) == {"intent_gate", "no_split_leakage", "llm_gate", "dpo_preference_gate", "embedder_gate",
                          "guard_gate", "release_gate"}
    assert {k.name for k in graph.asset_check_keys} == set(specs)
    for spec in specs.values():
        assert spec.blocking, f"{spec.name} must block downstream assets"


def test_every_asset_has_a_description():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key.to_user_string()} has no docstring for the UI"


def test_resources_are_configurable_and_default_to_local_state():
    resources = defs.resources
    assert isinstance(resources["mlflow"], MlflowResource) and resources["mlflow"].tracking_uri.startswith("sqlite:///")
    assert isinstance(resources["dvc"], DvcResource)
    assert isinstance(resources["model_store"], ModelStoreResource)
    assert resources["model_store"].encoder == "packaged:minilm"


def test_shipped_run_configs_validate():
    from pathlib import Path

    import yaml
    from dagster import validate_run_config

    job = defs.resolve_job_def("intent_pipeline")
    for path in Path(__file__).resolve().parents[1].glob("configs/run_config/*.yaml"):
        validate_run_config(job, yaml.safe_load(path.read_text()))  # raises on any unknown or mistyped field


def test_make_run_job_covers_every_asset_and_check_in_one_process():
    job = defs.resolve_job_def("convbot_pipeline")
    graph = defs.resolve_asset_graph()
    assert set(job.asset_layer.executable_asset_keys) == set(graph.get_all_asset_keys())
    assert {"intent_gate", "llm_gate", "dpo_preference_gate", "no_split_leakage", "embedder_gate"} <= {
        k.name for k in job.asset_layer.asset_graph.asset_check_keys}
    assert job.executor_def.name == "in_process"
    sensor = defs.resolve_sensor_def("feedback_sensor")
    assert sensor.job_name == "preference_refresh"
