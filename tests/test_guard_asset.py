"""`guard_model` as Dagster runs it: trained and logged once, with its test figures' intervals; materialised again
with the same inputs, it takes the model and its figures from that MLflow run. That second path must not lean on
MLflow's global tracking URI: in the Dagster UI each step runs in a process of its own, where nothing set it."""

import mlflow as mlf
import pytest
from dagster import build_asset_context

from assets.bot import GuardModelConfig, guard_model
from training.fileio import sha256_dir
from training.intent_dataset import write_dataset
from training.safety_data import SafetyConfig, guard_intent, safety_dataset, split_safety

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = {"num_train_epochs": 2, "learning_rate": 3e-3, "per_device_train_batch_size": 32, "save_total_limit": 1,
        "logging_steps": 50}


def test_guard_model_trains_once_then_reads_its_run_where_mlflow_points_elsewhere(env):
    tmp, resources = env
    frame = safety_dataset(SafetyConfig(seed=0))
    frame = frame.groupby("group").head(1).reset_index(drop=True)  # one prompt per template: a small, whole set
    path = tmp / "safety"
    write_dataset(split_safety(frame), sorted(set(guard_intent(frame))), path, {})
    prompts = {"path": str(path), "data_version": "tiny0000", "content_sha256": sha256_dir(path)}
    encoder = resources["model_store"].resolve_encoder().to_dict()
    config = GuardModelConfig(overrides=FAST)

    def materialise():
        return guard_model(build_asset_context(), config=config, safety_prompts=prompts, base_encoder=encoder,
                           mlflow=resources["mlflow"], model_store=resources["model_store"])

    first = materialise()
    metrics = first.value["metrics"]
    for rate in ("test_unsafe_recall", "test_false_positive_rate"):
        assert metrics[f"{rate}_ci95_low"] <= metrics[rate] <= metrics[f"{rate}_ci95_high"]
        assert metrics[f"{rate}_ci95_high"] - metrics[f"{rate}_ci95_low"] > 0.01  # an interval, not a point
    runs = resources["mlflow"].client().search_runs([resources["mlflow"].experiment_id("bot")])
    assert len(runs) == 1

    before = mlf.get_tracking_uri()
    mlf.set_tracking_uri(f"sqlite:///{tmp}/elsewhere.db")  # as in a fresh step process: not the project's server
    try:
        second = materialise()
    finally:
        mlf.set_tracking_uri(before)
    assert second.value["run_id"] == first.value["run_id"] and second.value["metrics"] == metrics
    assert second.metadata["per_category"] == first.metadata["per_category"]
    assert len(resources["mlflow"].client().search_runs([resources["mlflow"].experiment_id("bot")])) == 1
