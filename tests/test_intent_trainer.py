"""The intent trainer on tiny encoders built from configs."""

import json

import torch
from transformers import AutoModelForSequenceClassification

from tests.conftest import SMALL_INTENTS
from training.catalog import load_catalog
from training.intent_dataset import SplitConfig, split_frame, write_dataset
from training.intent_predictor import IntentPredictor
from training.intent_trainer import TRAIN_INFO, IntentTrainConfig, train_intent_model
from training.synthetic import SynthesisConfig, synthesize


def _dataset(tmp_path, small_catalog):
    catalog = load_catalog(small_catalog)
    frame = synthesize(catalog, SynthesisConfig(per_intent_templates=30, variants_per_intent=0)).frame
    return write_dataset(split_frame(frame, SplitConfig()), catalog.labels, tmp_path / "data", {})


def test_every_trainable_parameter_changes_and_checkpoint_carries_config(tmp_path, small_catalog, tiny_encoder):
    data = _dataset(tmp_path, small_catalog)
    logged = []
    cfg = IntentTrainConfig(overrides={"max_steps": 6, "learning_rate": 1e-2, "eval_strategy": "steps", "save_strategy": "steps",
                                       "eval_steps": 3, "save_steps": 3, "logging_steps": 1})
    out = train_intent_model(data, tiny_encoder, tmp_path / "work", cfg, metrics_sink=lambda m, s: logged.append((s, m)))

    before = AutoModelForSequenceClassification.from_pretrained(tiny_encoder, num_labels=len(SMALL_INTENTS))
    after = AutoModelForSequenceClassification.from_pretrained(out.model_dir)
    before_params = dict(before.named_parameters())
    for name, param in after.named_parameters():
        if name.startswith("classifier") or "pooler" in name:
            continue  # freshly initialised in `before`, so not comparable
        assert not torch.equal(param, before_params[name]), f"{name} did not change"
    assert any("loss" in m for _, m in logged), "training loss never reached the metrics sink"
    assert any("eval_accuracy" in m for _, m in logged)
    info = json.loads((out.model_dir / TRAIN_INFO).read_text())
    assert info["labels"] == sorted(SMALL_INTENTS) or set(info["labels"]) == set(SMALL_INTENTS)
    predictor = IntentPredictor.from_pretrained(out.model_dir)
    assert predictor.labels == out.labels
    assert predictor.max_length == cfg.max_length  # recorded on the tokenizer, so the registry copy keeps it
    proba = predictor.predict_proba(["what's the weather in Paris", "hello"])
    assert proba.shape == (2, len(SMALL_INTENTS))
    assert abs(proba.sum(axis=1) - 1).max() < 1e-5


def test_resumes_from_last_checkpoint(tmp_path, small_catalog, tiny_encoder):
    data = _dataset(tmp_path, small_catalog)
    common = {"eval_strategy": "steps", "save_strategy": "steps", "eval_steps": 2, "save_steps": 2, "logging_steps": 1, "save_total_limit": 3}
    first = train_intent_model(data, tiny_encoder, tmp_path / "work", IntentTrainConfig(overrides={**common, "max_steps": 2}))
    assert first.resumed_from is None
    # the same work folder with a longer schedule: a killed run picked up again
    second = train_intent_model(data, tiny_encoder, tmp_path / "work", IntentTrainConfig(overrides={**common, "max_steps": 4}))
    assert second.resumed_from is not None and second.resumed_from.endswith("checkpoint-2")
    steps = [h["step"] for h in second.log_history if "loss" in h]
    assert max(steps) == 4


def test_a_truncated_newest_checkpoint_is_passed_over(tmp_path, small_catalog, tiny_encoder):
    """A kill mid-save leaves the highest checkpoint broken: the re-run resumes from the one before."""
    data = _dataset(tmp_path, small_catalog)
    common = {"eval_strategy": "steps", "save_strategy": "steps", "eval_steps": 2, "save_steps": 2, "logging_steps": 1,
              "save_total_limit": 3}
    train_intent_model(data, tiny_encoder, tmp_path / "work", IntentTrainConfig(overrides={**common, "max_steps": 4}))
    checkpoints = tmp_path / "work" / "checkpoints"
    newest = checkpoints / "checkpoint-4"
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    # transformers' own choice would wedge every retry on the broken folder
    from transformers.trainer_utils import get_last_checkpoint

    assert get_last_checkpoint(str(checkpoints)).endswith("checkpoint-4")
    again = train_intent_model(data, tiny_encoder, tmp_path / "work", IntentTrainConfig(overrides={**common, "max_steps": 6}))
    assert again.resumed_from.endswith("checkpoint-2")
    assert max(h["step"] for h in again.log_history if "loss" in h) == 6


def test_a_tokenizer_without_a_recorded_length_is_refused(tiny_encoder):
    import pytest
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder)
    tokenizer.model_max_length = int(1e30)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_encoder, num_labels=2)
    with pytest.raises(ValueError, match="model_max_length"):
        IntentPredictor(model, tokenizer)


def test_calibration_is_fitted_on_validation_and_travels_with_the_model(tmp_path, small_catalog, tiny_encoder):
    data = _dataset(tmp_path, small_catalog)
    out = train_intent_model(data, tiny_encoder, tmp_path / "work",
                             IntentTrainConfig(overrides={"max_steps": 8, "learning_rate": 5e-3}))
    predictor = IntentPredictor.from_pretrained(out.model_dir)
    cal = predictor.calibration
    assert predictor.calibrated and cal["fitted_on"] == "validation" and cal["n"] > 0
    assert 0.05 <= predictor.temperature <= 20 and 0.0 <= predictor.threshold < 1.0
    assert {"ece_before", "ece_after", "temperature", "threshold"} <= set(cal)
    texts = ["what's the weather in Paris", "hello", "set an alarm for 7"]
    proba = predictor.predict_proba(texts)
    decisions, confidence = predictor.decide(texts)
    for d, c, p in zip(decisions, confidence, proba):
        assert d == ("out_of_scope" if c < predictor.threshold else predictor.labels[int(p.argmax())])


def test_the_novelty_score_is_fitted_travels_in_the_config_and_decides(tmp_path, small_catalog, tiny_encoder):
    import dataclasses

    import numpy as np
    import pytest

    from training.base_models import resolve_encoder
    from training.intent_trainer import NoveltyEncoder

    data = _dataset(tmp_path, small_catalog)
    encoder = resolve_encoder(str(tiny_encoder))
    out = train_intent_model(data, tiny_encoder, tmp_path / "work", IntentTrainConfig(overrides={"max_steps": 8}),
                             novelty=NoveltyEncoder(encoder.spec, encoder.checksum, off_topic_requests=40))
    config = json.loads((out.model_dir / "config.json").read_text())["convbot_calibration"]
    assert config["novelty"]["encoder_sha256"] == encoder.checksum
    predictor = IntentPredictor.from_pretrained(out.model_dir).prepare()
    novelty = predictor.novelty
    assert novelty.intents == sorted(set(out.labels) - {"out_of_scope"}) and len(novelty.centroids) == len(novelty.intents)
    assert novelty.n_calibration > 40  # validation rows and generated off-topic requests
    texts = ["what's the weather in Paris", "hello", "set an alarm for 7", "how do i bake bread", "who won the cup"]
    assessed = predictor.assess(texts)
    predicted = [predictor.labels[i] for i in assessed.proba.argmax(axis=1)]
    for d, s, p in zip(assessed.decisions, assessed.in_scope_score, predicted):
        assert d == ("out_of_scope" if s < novelty.threshold else p)
    assert predictor.decide(texts)[0] == assessed.decisions
    # the score is only valid with the encoder it was fitted with
    other = IntentPredictor.from_pretrained(out.model_dir)
    other.novelty = dataclasses.replace(novelty, encoder_sha256="0" * 64)
    with pytest.raises(ValueError, match="fitted with 000000000000"):
        other.assess(texts)
    assert np.isfinite(assessed.in_scope_score).all()
