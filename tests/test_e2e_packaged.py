"""End-to-end with the real packaged models on small slices of real data (CLINC150)."""

import json
from pathlib import Path

import pytest

from evals.intent_metrics import intent_report
from training.base_models import resolve_encoder
from training.intent_dataset import SplitConfig, split_frame, write_dataset
from training.intent_predictor import IntentPredictor
from training.intent_trainer import IntentTrainConfig, train_intent_model
from training.real_data import import_labeled

pytestmark = pytest.mark.e2e


def test_packaged_minilm_learns_a_clinc150_slice(tmp_path, clinc_path):
    intents = json.loads((clinc_path.parent / "domains.json").read_text())["banking"]
    train = import_labeled(clinc_path, "clinc150", splits=["train"], labels=intents)
    test = import_labeled(clinc_path, "clinc150", splits=["test"], labels=intents)
    assert len(train.frame) == 100 * len(intents) and len(test.frame) == 30 * len(intents)
    # a small slice of the official train split; the official test split is only scored
    small = train.frame.groupby("intent").head(25)
    splits = split_frame(small, SplitConfig(validation_fraction=0.2, test_fraction=0.0))
    data = write_dataset({"train": splits["train"], "validation": splits["validation"]}, sorted(intents),
                         tmp_path / "data", {})
    out = train_intent_model(data, resolve_encoder().path, tmp_path / "work",
                             IntentTrainConfig(overrides={"num_train_epochs": 8, "learning_rate": 2e-4}))
    predictor = IntentPredictor.from_pretrained(out.model_dir)
    report = intent_report(test.frame["intent"].tolist(), predictor.predict_proba(test.frame["text"].tolist()),
                           predictor.labels)
    assert report.metrics["accuracy"] > 0.85, report.metrics


def test_packaged_minilm_fine_tunes_under_dp(tmp_path, clinc_path):
    import torch
    from safetensors.torch import load_file

    from training.dp_embedder import EmbedderTrainConfig, load_embedder, train_embedder

    # DP-SGD: the packaged MiniLM on a CLINC150 slice, epsilon 8
    clinc = json.loads(clinc_path.read_text())
    rows = [(t, y) for t, y in clinc["train"] if y in ("balance", "transfer", "freeze_account", "pin_change")][:160]
    dp = train_embedder(resolve_encoder().path, [t for t, _ in rows], [y for _, y in rows], tmp_path / "dp",
                        EmbedderTrainConfig(epochs=1, batch_size=32, target_epsilon=8.0), progress=False)
    assert 0 < dp.epsilon_spent <= 8.0 * 1.01 and dp.steps > 0
    before = load_file(next(Path(resolve_encoder().path).rglob("model.safetensors")))
    after = load_file(next((tmp_path / "dp").rglob("model.safetensors")))
    moved = [k for k in after if "encoder.layer" in k and not torch.equal(before[k], after[k])]
    assert moved, "DP-SGD did not change the encoder layers"
    assert load_embedder(dp.model_dir).encode(["what's my balance"]).shape == (1, 384)
