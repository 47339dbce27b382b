"""Held-out metrics (Wilson interval, ECE, per-intent P/R) and the release gate."""

from __future__ import annotations

import numpy as np
import pytest

from evals.gate import GateDecision, accuracy_gate
from evals.intent_metrics import expected_calibration_error, intent_report, wilson_interval

# --- Wilson interval -----------------------------------------------------------------------------


def test_wilson_known_values():
    lo, hi = wilson_interval(90, 100)
    assert lo == pytest.approx(0.8256, abs=5e-4)
    assert hi == pytest.approx(0.9448, abs=5e-4)
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=5e-4)
    assert hi == pytest.approx(0.5962, abs=5e-4)
    assert (lo + hi) / 2 == pytest.approx(0.5)


def test_wilson_extremes_stay_in_unit_interval():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(0.2775, abs=5e-4)
    lo, hi = wilson_interval(10, 10)
    assert lo == pytest.approx(0.7225, abs=5e-4)
    assert hi == pytest.approx(1.0)
    assert 0.0 <= lo <= hi <= 1.0


def test_wilson_narrows_with_more_data():
    small = wilson_interval(9, 10)
    large = wilson_interval(900, 1000)
    assert large[1] - large[0] < small[1] - small[0]
    assert large[0] < 0.9 < large[1]


def test_wilson_zero_examples_raises():
    with pytest.raises(ValueError, match="zero examples"):
        wilson_interval(0, 0)


# --- expected calibration error ------------------------------------------------------------------


def test_ece_zero_for_confident_correct_predictions():
    y = np.array([0, 1, 2, 1, 0])
    proba = np.eye(3)[y]
    assert expected_calibration_error(proba, y) == pytest.approx(0.0)


def test_ece_large_for_confidently_wrong_predictions():
    y = np.array([0, 1, 2, 1])
    wrong = (y + 1) % 3
    proba = np.full((4, 3), 0.005)
    proba[np.arange(4), wrong] = 0.99
    ece = expected_calibration_error(proba, y)
    assert ece > 0.4
    assert ece == pytest.approx(0.99)


def test_ece_half_confident_half_right_is_calibrated():
    # confidence 0.6 in every row and 60% of rows correct
    y = np.array([0, 0, 0, 1, 1])
    proba = np.tile([0.6, 0.4], (5, 1))
    assert expected_calibration_error(proba, y) == pytest.approx(0.0, abs=1e-9)
    # the same confidence with only 20% correct is off by 0.4
    y_bad = np.array([0, 1, 1, 1, 1])
    assert expected_calibration_error(proba, y_bad) == pytest.approx(0.4)


# --- intent report -------------------------------------------------------------------------------

LABELS = ["a", "b", "c"]


def _proba(pred: list[int], k: int = 3, conf: float = 0.8) -> np.ndarray:
    p = np.full((len(pred), k), (1 - conf) / (k - 1))
    p[np.arange(len(pred)), pred] = conf
    return p


def test_intent_report_hand_made_example():
    y_true = ["a", "a", "b", "b", "c", "c"]
    pred = [0, 1, 1, 1, 2, 0]  # a->a, a->b, b->b, b->b, c->c, c->a
    report = intent_report(y_true, _proba(pred), LABELS)
    m = report.metrics
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["n"] == 6
    lo, hi = wilson_interval(4, 6)
    assert (m["accuracy_ci95_low"], m["accuracy_ci95_high"]) == pytest.approx((lo, hi))
    pi = report.per_intent
    assert pi["a"]["precision"] == pytest.approx(1 / 2) and pi["a"]["recall"] == pytest.approx(1 / 2)
    assert pi["b"]["precision"] == pytest.approx(2 / 3) and pi["b"]["recall"] == pytest.approx(1.0)
    assert pi["c"]["precision"] == pytest.approx(1.0) and pi["c"]["recall"] == pytest.approx(1 / 2)
    assert pi["b"]["f1"] == pytest.approx(0.8)
    assert [pi[l]["support"] for l in LABELS] == [2, 2, 2]
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # every prediction at confidence 0.8, 4/6 correct
    assert m["ece"] == pytest.approx(abs(0.8 - 4 / 6))
    assert report.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report.labels == LABELS


def test_intent_report_label_without_examples():
    report = intent_report(["a", "b"], _proba([0, 1]), LABELS)
    assert report.metrics["accuracy"] == 1.0
    assert report.per_intent["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report.metrics["macro_f1"] == pytest.approx(2 / 3)


def test_intent_report_empty_split_raises():
    with pytest.raises(ValueError, match="empty"):
        intent_report([], np.zeros((0, 3)), LABELS)


def test_intent_report_unknown_labels_raise():
    with pytest.raises(ValueError) as info:
        intent_report(["a", "zzz", "yyy"], _proba([0, 1, 2]), LABELS)
    assert "['yyy', 'zzz']" in str(info.value)


# --- accuracy gate -------------------------------------------------------------------------------


def test_gate_passes_above_threshold_without_champion():
    d = accuracy_gate({"accuracy": 0.95}, None)
    assert isinstance(d, GateDecision)
    assert d.passed
    assert "0.9500" in d.reasons[0] and "0.9200" in d.reasons[0]
    assert "no champion yet" in d.reasons
    assert d.summary().startswith("PASSED: ")


def test_gate_fails_at_the_threshold():
    d = accuracy_gate({"accuracy": 0.92}, None, min_accuracy=0.92)
    assert not d.passed
    assert "0.9200 <= threshold 0.9200" in d.reasons[0]
    assert d.summary().startswith("FAILED: ")


def test_gate_fails_below_the_threshold():
    d = accuracy_gate({"accuracy": 0.80}, {"accuracy": 0.70})
    assert not d.passed
    assert "0.8000 <=" in d.reasons[0]
    assert "+0.1000" in d.reasons[1]


def test_gate_fails_on_regression_against_champion():
    d = accuracy_gate({"accuracy": 0.94}, {"accuracy": 0.97}, max_regression=0.01)
    assert not d.passed
    assert "> threshold" in d.reasons[0]
    assert "0.9700" in d.reasons[1] and "-0.0300" in d.reasons[1] and "beyond tolerance 0.0100" in d.reasons[1]


def test_gate_passes_within_tolerance():
    d = accuracy_gate({"accuracy": 0.955}, {"accuracy": 0.96}, max_regression=0.01)
    assert d.passed
    assert "-0.0050" in d.reasons[1] and "within tolerance" in d.reasons[1]
    better = accuracy_gate({"accuracy": 0.97}, {"accuracy": 0.96})
    assert better.passed and "+0.0100" in better.reasons[1]


def test_gate_custom_metric_and_thresholds():
    d = accuracy_gate({"accuracy": 0.99, "macro_f1": 0.85}, {"accuracy": 0.5, "macro_f1": 0.9},
                      min_accuracy=0.8, max_regression=0.1, metric="macro_f1")
    assert d.passed
    assert d.reasons[0].startswith("macro_f1 0.8500 > threshold 0.8000")
    strict = accuracy_gate({"macro_f1": 0.85}, {"macro_f1": 0.9}, min_accuracy=0.8, max_regression=0.0,
                           metric="macro_f1")
    assert not strict.passed
    with pytest.raises(KeyError):
        accuracy_gate({"accuracy": 0.95}, None, metric="macro_f1")


def test_gate_passes_a_drop_of_exactly_the_tolerance():
    # 0.95 - 0.96 is -0.010000000000000009 in floating point: still exactly the tolerance
    d = accuracy_gate({"accuracy": 0.95}, {"accuracy": 0.96}, max_regression=0.01)
    assert d.passed, d.summary()
    assert "within tolerance" in d.reasons[-1]
    assert not accuracy_gate({"accuracy": 0.949}, {"accuracy": 0.96}, max_regression=0.01).passed
