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
