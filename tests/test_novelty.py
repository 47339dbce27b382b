"""training.novelty and training.calibration.best_threshold: the out-of-scope score and its threshold."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import best_threshold, choose_threshold
from training.novelty import NoveltyScore, centroids, fit_novelty


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_centroids_are_normalised_means_per_intent():
    emb = _unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.8, 0.2]])
    intents, cents = centroids(emb, ["a", "a", "b", "b"])
    assert intents == ["a", "b"]
    assert np.allclose(np.linalg.norm(cents, axis=1), 1.0)
    assert cents[0].argmax() == 0 and cents[1].argmax() == 1


def test_best_threshold_trades_in_scope_accuracy_for_out_of_scope_recall():
    score = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.75])
    in_scope = np.array([True, True, True, False, False, False])
    correct = np.array([True, True, False, False, False, False])
    # 0.76 keeps both correct in-scope rows and catches all three out-of-scope rows; 0.5 lets one through
    # and 0.85 loses a correct in-scope row
    assert best_threshold(score, in_scope, correct, np.array([0.0, 0.5, 0.76, 0.85])) == 0.76
    # no out-of-scope rows: the lowest candidate
    assert best_threshold(score[:3], in_scope[:3], correct[:3], np.array([0.3, 0.0, 0.5])) == 0.0


def test_choose_threshold_is_best_threshold_on_the_confidence():
    labels = ["a", "b", "out_of_scope"]
    proba = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8]])
    gold = ["a", "b", "out_of_scope", "out_of_scope"]
    assert choose_threshold(proba, gold, labels, "out_of_scope") == pytest.approx(0.51)
    assert choose_threshold(proba[:2], gold[:2], labels, "out_of_scope") == 0.0


def _fitted(rng):
    # two intents along two axes; off-topic requests along a third one
    train = _unit(np.vstack([[1, 0, 0]] * 20 + [[0, 1, 0]] * 20) + rng.normal(0, 0.1, (40, 3)))
    labels = ["a"] * 20 + ["b"] * 20
    inside = _unit(np.vstack([[1, 0, 0]] * 10 + [[0, 1, 0]] * 10) + rng.normal(0, 0.1, (20, 3)))
    outside = _unit(np.vstack([[0, 0, 1]] * 20) + rng.normal(0, 0.15, (20, 3)))
    # the classifier is as confident on both: only the embeddings tell them apart
    confidence = rng.uniform(0.6, 0.95, 40)
    return fit_novelty("enc", "sha", train, labels, confidence, np.vstack([inside, outside]),
                       np.array([True] * 20 + [False] * 20), np.array([True] * 20 + [False] * 20),
                       lambda s, i, c: best_threshold(s, i, c, np.unique(s))), inside, outside


def test_the_score_catches_requests_far_from_every_intent_that_confidence_does_not():
    rng = np.random.default_rng(0)
    score, inside, outside = _fitted(rng)
    assert score.intents == ["a", "b"] and score.n_calibration == 40
    conf = np.full(20, 0.8)
    assert (score.in_scope_score(conf, inside) >= score.threshold).mean() >= 0.95
    assert (score.in_scope_score(conf, outside) < score.threshold).mean() >= 0.95
    # a low confidence lowers the score too
    assert (score.in_scope_score(np.full(20, 0.0), inside) < score.in_scope_score(conf, inside)).all()


def test_the_score_round_trips_through_a_dict():
    score, inside, _ = _fitted(np.random.default_rng(1))
    again = NoveltyScore.from_dict(score.to_dict())
    assert again == score
    assert np.allclose(again.in_scope_score(np.full(20, 0.7), inside), score.in_scope_score(np.full(20, 0.7), inside))


def test_the_base_encoder_embeds_with_mean_pooling_and_only_with_its_own_weights(tiny_encoder):
    from training.base_models import resolve_encoder
    from training.dp_embedder import base_embedder
    from training.novelty import base_encoder_embed

    resolved = resolve_encoder(str(tiny_encoder))
    embed = base_encoder_embed(resolved.spec, resolved.checksum, 32)
    texts = ["book a flight to lisbon", "hi", "what is the weather like in a city far away this weekend"]
    expected = base_embedder(resolved.path, max_length=32).encode(texts, normalize_embeddings=True)
    assert np.allclose(embed(texts), expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(embed(texts), axis=1), 1.0, atol=1e-5)
    assert embed([]).shape == (0, expected.shape[1])
    with pytest.raises(ValueError, match="fitted with"):
        base_encoder_embed(resolved.spec, "f" * 64, 32)
