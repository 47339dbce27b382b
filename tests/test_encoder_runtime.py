"""The routing path's encoders in ONNX Runtime: the same numbers and decisions as PyTorch, or refused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import yaml

from serving.encoder_runtime import (INT8_TOLERANCE, PROBE, ExportMismatch, onnx_classifier, onnx_sentence_encoder,
                                     relative_distance)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXTS = ["hi", "book me a flight to lisbon next tuesday at 9am please", "WHAT'S THE WEATHER in Oslo??",
         "how do i kill a python process " * 12, "réinitialiser mon mot de passe", "set an alarm"]


def _torch_logits(predictor, texts):
    enc = predictor.tokenizer(texts, truncation=True, max_length=predictor.max_length, padding=True,
                              return_tensors="pt")
    with torch.inference_mode():
        return predictor.model(**enc).logits.numpy()


def test_the_classifier_export_gives_pytorchs_logits_for_any_batch_and_length(tiny_bundle):
    from training.intent_predictor import IntentPredictor

    predictor = IntentPredictor.from_pretrained(tiny_bundle / "models" / "intent")
    run = onnx_classifier(predictor.model, predictor.tokenizer, predictor.max_length)
    # one text at a time, all at once (padding), and a text longer than the truncation length
    for batch in [TEXTS, TEXTS[:1], TEXTS[3:4]]:
        np.testing.assert_allclose(run(batch), _torch_logits(predictor, batch), atol=1e-4)
    assert run([]).shape == (0, len(predictor.labels))


def test_the_sentence_encoder_export_gives_encodes_normalised_embeddings(tiny_encoder):
    from training.dp_embedder import base_embedder

    encoder = base_embedder(tiny_encoder, max_length=16)
    run = onnx_sentence_encoder(encoder)
    expected = encoder.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)
    got = run(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_the_int8_runtime_quantizes_the_weights_and_stays_near_pytorch(tiny_bundle, tiny_encoder):
    from training.dp_embedder import base_embedder
    from training.intent_predictor import IntentPredictor

    predictor = IntentPredictor.from_pretrained(tiny_bundle / "models" / "intent")
    fp32 = onnx_classifier(predictor.model, predictor.tokenizer, predictor.max_length)
    int8 = onnx_classifier(predictor.model, predictor.tokenizer, predictor.max_length, int8=True)
    expected = _torch_logits(predictor, TEXTS)
    # quantized (not the float graph), and near it
    assert 1e-4 < relative_distance(int8(TEXTS), expected).max() < INT8_TOLERANCE
    assert np.abs(int8(TEXTS) - fp32(TEXTS)).max() > 1e-4
    # a text's numbers are its own, whatever shares the call (activation scales are per pass)
    np.testing.assert_array_equal(int8(TEXTS), np.concatenate([int8([t]) for t in TEXTS]))
    encoder = base_embedder(tiny_encoder, max_length=16)
    embed = onnx_sentence_encoder(encoder, int8=True)
    cosine = (embed(TEXTS) * encoder.encode(TEXTS, normalize_embeddings=True, show_progress_bar=False)).sum(1)
    assert 0.9 < cosine.min() and cosine.max() < 1 - 1e-6


def test_the_bot_serves_int8_encoders_when_its_config_says_so(tiny_bundle, tmp_path):
    bot = _bot_with(tiny_bundle, tmp_path, "onnx-int8")
    eager = _bot_with(tiny_bundle, tmp_path, "torch")
    assert bot.route("s-1", TEXTS[1]).intent == eager.route("s-2", TEXTS[1]).intent
    for model in ("guard", "intent"):
        served = getattr(bot, model) if model == "guard" else bot.routing.stages[2]
        reference = getattr(eager, model) if model == "guard" else eager.routing.stages[2]
        got, expected = (m.predictor.predict_logits(TEXTS) for m in (served, reference))
        assert 1e-4 < np.abs(got - expected).max() and relative_distance(got, expected).max() < INT8_TOLERANCE
    assert {p.device.type for p in bot.guard.predictor.model.parameters()} == {"meta"}  # released, as for onnx


def test_an_undecided_text_does_not_fail_the_int8_check_and_a_wrong_output_still_does(tiny_bundle):
    """A classifier that is undecided on a probe text gives logits near zero for it: int8's small error is then
    large relative to that row alone (the likely cause of the tiny bundle's one refusal: its guard can stop at an
    early checkpoint). The check measures each row against the output's scale instead."""
    import copy

    from training.intent_predictor import IntentPredictor

    predictor = IntentPredictor.from_pretrained(tiny_bundle / "models" / "guard")
    model = copy.deepcopy(predictor.model)
    enc = predictor.tokenizer(PROBE[:1], return_tensors="pt")
    with torch.inference_mode():  # the bias that puts the first probe's logits exactly at zero
        model.classifier.bias -= model(**enc).logits[0]
        expected = torch.cat([model(**predictor.tokenizer([t], return_tensors="pt")).logits for t in PROBE]).numpy()
    assert np.linalg.norm(expected[0]) < 1e-4 < np.linalg.norm(expected[1:], axis=1).min()
    int8 = onnx_classifier(model, predictor.tokenizer, predictor.max_length, int8=True)  # not refused
    got = int8(PROBE)
    own_length = max(float(np.linalg.norm(expected[0])), 1e-6)  # the old measure: relative to the row alone
    assert np.linalg.norm(got[0] - expected[0]) / own_length > 10 * INT8_TOLERANCE
    assert relative_distance(got, expected).max() < INT8_TOLERANCE
    # a graph that computes something else is still far off: another text's numbers, or the sign flipped
    assert relative_distance(expected[::-1], expected).max() > 1
    assert relative_distance(-expected, expected).max() > 1.5


def test_an_export_that_does_not_reproduce_the_model_is_refused(tiny_bundle):
    """Python control flow on a shape is frozen by the tracer at the example's shape: the export then computes
    something else for other lengths, and the probe texts catch it."""
    from training.intent_predictor import IntentPredictor

    predictor = IntentPredictor.from_pretrained(tiny_bundle / "models" / "intent")

    class ShapeDependent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = predictor.model

        def forward(self, **inputs):
            logits = self.inner(**inputs).logits
            return type("Out", (), {"logits": logits * 3 if inputs["input_ids"].shape[1] > 8 else logits})()

    with pytest.raises(ExportMismatch, match="differs from PyTorch"):
        onnx_classifier(ShapeDependent(), predictor.tokenizer, predictor.max_length)


def _bot_with(bundle, tmp_path, runtime):
    from serving.bot.bot import Bot

    copy = tmp_path / runtime
    shutil.copytree(bundle, copy)
    config = yaml.safe_load((copy / "bot.yaml").read_text())
    (copy / "bot.yaml").write_text(yaml.safe_dump({**config, "encoder_runtime": runtime}))
    return Bot(copy, load_llm=False)


def test_the_bot_routes_alike_in_both_runtimes(tiny_bundle, tmp_path):
    onnx, eager = _bot_with(tiny_bundle, tmp_path, "onnx"), _bot_with(tiny_bundle, tmp_path, "torch")
    texts = TEXTS + ["how do i reset my password", "I want to hurt someone badly", "book a flight to paris"]
    for text in texts:
        a, b = onnx.route("s-1", text), eager.route("s-2", text)
        assert (a.route, a.intent, a.refused) == (b.route, b.intent, b.refused), text
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
        assert a.guard.get("score") == pytest.approx(b.guard.get("score"), abs=2e-4)
    answered = [t for t in texts if onnx.route("s-3", t).route == "retrieval"]
    for text in answered:  # the retrieval encoder too: the same citations
        assert onnx.respond("s-4", text).citations == eager.respond("s-5", text).citations


def test_an_unknown_encoder_runtime_is_a_clear_error(tiny_bundle, tmp_path):
    from serving.bot.turn import BotError

    with pytest.raises(BotError, match="encoder_runtime is 'tensorrt'; it must be onnx, onnx-int8 or torch"):
        _bot_with(tiny_bundle, tmp_path, "tensorrt")


def test_onnx_bots_release_the_pytorch_copies(tiny_bundle, tmp_path):
    """ONNX Runtime holds its own copy of each model's weights: the PyTorch one goes (about 90 MB each with
    MiniLM)."""
    bot = _bot_with(tiny_bundle, tmp_path, "onnx")
    for model in (bot.guard.predictor.model, bot.routing.stages[2].predictor.model):
        assert {p.device.type for p in model.parameters()} == {"meta"}
    assert bot.route("s-1", "set an alarm").intent is not None


def test_the_novelty_scores_encoder_runs_in_onnx_runtime_with_the_same_scores(tiny_bundle, tiny_encoder, tmp_path):
    """An intent model with an out-of-scope score: its base encoder's pass is exported too."""
    import json

    from serving.encoder_runtime import in_onnx_runtime
    from training.base_models import resolve_encoder
    from training.intent_predictor import CALIBRATION_KEY, NOVELTY_KEY, IntentPredictor
    from training.novelty import NoveltyScore, base_encoder_embed

    folder = tmp_path / "intent"
    shutil.copytree(tiny_bundle / "models" / "intent", folder)
    config = json.loads((folder / "config.json").read_text())
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    resolved = resolve_encoder(str(tiny_encoder))
    rng = np.random.default_rng(0)
    centroids = rng.normal(size=(len(labels), config["hidden_size"]))
    score = NoveltyScore(resolved.spec, resolved.checksum, labels,
                         (centroids / np.linalg.norm(centroids, axis=1, keepdims=True)).tolist(),
                         [0.5, 0.2], [0.2, 0.1], 0.0, 10)
    config[CALIBRATION_KEY] = {**(config.get(CALIBRATION_KEY) or {}), NOVELTY_KEY: score.to_dict()}
    (folder / "config.json").write_text(json.dumps(config))

    eager, onnx = IntentPredictor.from_pretrained(folder), IntentPredictor.from_pretrained(folder)
    in_onnx_runtime(onnx)
    a, b = eager.assess(TEXTS), onnx.assess(TEXTS)
    np.testing.assert_allclose(b.in_scope_score, a.in_scope_score, atol=1e-3)
    assert a.decisions == b.decisions
    assert {p.device.type for p in onnx.model.parameters()} == {"meta"}
    # the process's shared copy of the base encoder (training code uses it) keeps its weights
    assert np.isfinite(base_encoder_embed(resolved.spec, resolved.checksum, eager.max_length)(["still here"])).all()


def test_the_latency_benchmarks_intent_stage_runs_where_the_bot_does(tiny_bundle):
    from serving.intent_stage import IntentStage

    onnx = IntentStage.from_pretrained(tiny_bundle / "models" / "intent")
    eager = IntentStage.from_pretrained(tiny_bundle / "models" / "intent", runtime="torch")
    assert {p.device.type for p in onnx.predictor.model.parameters()} == {"meta"}
    for text in TEXTS:
        a, b = onnx.classify(text), eager.classify(text)
        assert a.intent == b.intent and a.confidence == pytest.approx(b.confidence, abs=1e-4)
    with pytest.raises(ValueError, match="must be onnx, onnx-int8 or torch"):
        IntentStage.from_pretrained(tiny_bundle / "models" / "intent", runtime="openvino")
