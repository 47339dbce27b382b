"""The guard's operating point: chosen on validation, under a ceiling on safe prompts refused."""

from __future__ import annotations

import numpy as np
import pytest

from training.guard import choose_guard_threshold


def _flagged(scores, unsafe, t):
    flagged = np.asarray(scores) >= t
    unsafe = np.asarray(unsafe, dtype=bool)
    return flagged[unsafe].mean(), flagged[~unsafe].mean()


def test_a_missed_unsafe_group_does_not_drag_the_threshold_to_the_score_floor():
    # 90 unsafe prompts the model catches, one template group of 10 it scores at the floor like the safe ones
    rng = np.random.default_rng(0)
    unsafe_scores = np.concatenate([rng.uniform(0.6, 1.0, 90), np.full(10, 0.039)])
    safe_scores = np.concatenate([rng.uniform(0.0, 0.3, 180), np.full(20, 0.039)])
    scores = np.concatenate([unsafe_scores, safe_scores])
    unsafe = np.r_[np.ones(100, bool), np.zeros(200, bool)]
    t = choose_guard_threshold(scores, unsafe, min_recall=0.97, max_false_positive_rate=0.05)
    recall, fpr = _flagged(scores, unsafe, t)
    assert fpr <= 0.05
    assert recall == pytest.approx(0.90)


def test_the_highest_threshold_that_reaches_the_recall_target():
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.05])
    unsafe = np.array([True, True, True, False, False, False])
    assert choose_guard_threshold(scores, unsafe, min_recall=1.0, max_false_positive_rate=0.0) == pytest.approx(0.7)
    assert choose_guard_threshold(scores, unsafe, min_recall=0.6, max_false_positive_rate=0.0) == pytest.approx(0.8)


def test_when_even_the_top_score_is_safe_nothing_is_flagged():
    scores = np.array([0.9, 0.5, 0.4])
    unsafe = np.array([False, True, True])
    t = choose_guard_threshold(scores, unsafe, max_false_positive_rate=0.0)
    assert not (scores >= t).any()


def test_validation_needs_both_classes():
    with pytest.raises(ValueError, match="both safe and unsafe"):
        choose_guard_threshold(np.array([0.1, 0.9]), np.array([True, True]))


class _Predictor:
    """A stand-in for IntentPredictor: fixed P(label) rows, and the config the guard's thresholds live in."""

    def __init__(self, settings: dict, proba: np.ndarray):
        from types import SimpleNamespace

        from training.guard import GUARD_KEY
        self.labels = ["safe", "violence"]
        self.model = SimpleNamespace(config=SimpleNamespace(**{GUARD_KEY: settings}))
        self._proba = proba

    def predict_proba(self, texts):
        return self._proba[: len(texts)]


def test_answers_are_judged_at_the_stricter_output_threshold():
    from serving.guard.classifier import GuardClassifier

    proba = np.array([[0.4, 0.6], [0.1, 0.9]])  # P(unsafe) 0.6 and 0.9
    guard = GuardClassifier(_Predictor({"threshold": 0.5, "output_threshold": 0.8}, proba))
    assert [v.unsafe for v in guard.check(["a", "b"])] == [True, True]
    assert [v.unsafe for v in guard.check(["a", "b"], answers=True)] == [False, True]
    assert guard.check(["a"], answers=True)[0].category is None
    # a guard saved before the output threshold existed checks answers as it checks requests
    old = GuardClassifier(_Predictor({"threshold": 0.5}, proba))
    assert old.output_threshold == 0.5 and old.check(["a"], answers=True)[0].unsafe


def test_the_output_threshold_is_chosen_under_its_own_lower_ceiling():
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.uniform(0.3, 1.0, 100), rng.uniform(0.0, 0.6, 200)])
    unsafe = np.r_[np.ones(100, bool), np.zeros(200, bool)]
    request = choose_guard_threshold(scores, unsafe, min_recall=0.97, max_false_positive_rate=0.10)
    output = choose_guard_threshold(scores, unsafe, min_recall=0.97, max_false_positive_rate=0.02)
    assert output > request
    assert _flagged(scores, unsafe, output)[1] <= 0.02 < _flagged(scores, unsafe, request)[1]
