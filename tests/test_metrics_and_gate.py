"""Held-out metrics (Wilson interval, ECE, per-intent P/R) and the release gate."""

from __future__ import annotations

import numpy as np
import pytest

from evals.gate import (
    GateConfigError,
    GateDecision,
    GateSpec,
    Regression,
    Threshold,
    decide,
    gate_for_model,
    load_gate_specs,
    paired_difference,
    resolve_thresholds,
)
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


def test_ece_comes_with_its_bootstrap_interval_and_the_floor_a_calibrated_model_would_show():
    from training.calibration import ece_if_calibrated, ece_interval

    rng = np.random.default_rng(3)
    n, k = 2000, 3
    proba = rng.dirichlet(np.ones(k) * 0.3, size=n)
    calibrated = np.array([rng.choice(k, p=row) for row in proba])  # labels drawn from the model's own belief
    overconfident = _proba([0] * n, k, conf=0.95)
    wrong = rng.random(n) < 0.4  # 60% right at confidence 0.95
    y_over = np.where(wrong, 1, 0)
    low, high = ece_interval(overconfident, y_over)
    assert low <= expected_calibration_error(overconfident, y_over) <= high
    assert 0.3 < low and high < 0.4  # the true gap is 0.35
    cal_ece = expected_calibration_error(proba, calibrated)
    floor = ece_if_calibrated(proba)
    assert floor < 0.05 and abs(cal_ece - floor) < 0.03  # what a calibrated model shows is about its floor
    small = proba[:100]
    assert ece_if_calibrated(small) > floor  # fewer rows, a higher floor
    assert ece_if_calibrated(np.eye(k)[[0, 1, 2, 0]]) == 0.0  # certain and right by construction
    m = intent_report([LABELS[i] for i in y_over], overconfident, LABELS).metrics
    assert m["ece_ci95_low"] <= m["ece"] <= m["ece_ci95_high"] and m["ece_if_calibrated"] < 0.05


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


# --- gates --------------------------------------------------------------------------------------

SPEC = GateSpec("intent_gate", ("intent-classifier",), (Threshold("accuracy", ">", 0.92),), Regression())


def test_gate_passes_above_threshold_without_champion():
    d = decide(SPEC, SPEC.floors, {"accuracy": 0.95})
    assert isinstance(d, GateDecision) and d.passed
    assert d.reasons[0] == "accuracy 0.9500 meets > 0.92"
    assert "no champion to compare with" in d.reasons
    assert d.summary().startswith("PASSED: ")


def test_a_gate_reason_carries_the_metrics_interval_where_one_was_measured():
    d = decide(SPEC, SPEC.floors, {"accuracy": 0.915, "accuracy_ci95_low": 0.89, "accuracy_ci95_high": 0.935})
    assert not d.passed and d.reasons[0] == "accuracy 0.9150 fails > 0.92 (95% CI [0.8900, 0.9350])"
    half = decide(SPEC, SPEC.floors, {"accuracy": 0.95, "accuracy_ci95_low": 0.9})  # an interval needs both ends
    assert half.reasons[0] == "accuracy 0.9500 meets > 0.92"


def test_gate_fails_at_the_threshold_and_on_a_missing_metric():
    d = decide(SPEC, SPEC.floors, {"accuracy": 0.92})
    assert not d.passed and "0.9200 fails > 0.92" in d.reasons[0]
    missing = decide(SPEC, SPEC.floors, {"macro_f1": 0.99})
    assert not missing.passed and "accuracy was not measured" in missing.reasons[0]
    assert not decide(SPEC, SPEC.floors, {"accuracy": float("nan")}).passed


def test_paired_difference_interval():
    same = paired_difference([True] * 50, [True] * 50)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)
    # 10 examples better, 2 worse out of 100: +0.08 with an interval that excludes zero
    a = [True] * 10 + [False] * 2 + [True] * 88
    b = [False] * 10 + [True] * 2 + [True] * 88
    d = paired_difference(a, b)
    assert d.difference == pytest.approx(0.08) and d.low > 0 and d.n == 100
    with pytest.raises(ValueError):
        paired_difference([True], [True, False])


def test_gate_fails_only_on_a_drop_noise_cannot_explain():
    # one worse answer in 200: within the interval, passes
    small = paired_difference([False] + [True] * 199, [True] * 200)
    assert small.low < 0 < small.high or small.high >= 0
    assert decide(SPEC, SPEC.floors, {"accuracy": 0.95}, small).passed
    # 20 worse, 2 better in 200: the whole interval is below zero
    big = paired_difference([False] * 20 + [True] * 2 + [True] * 178, [True] * 20 + [False] * 2 + [True] * 178)
    d = decide(SPEC, SPEC.floors, {"accuracy": 0.95}, big)
    assert big.high < 0 and not d.passed
    assert "significant drop" in d.reasons[-1] and "95% CI" in d.reasons[-1]


def test_thresholds_may_be_stricter_but_looser_needs_a_reason():
    assert resolve_thresholds(SPEC, {"accuracy": 0.95})[0].value == 0.95
    with pytest.raises(GateConfigError, match="looser than the project floor accuracy > 0.92"):
        resolve_thresholds(SPEC, {"accuracy": 0.5})
    assert resolve_thresholds(SPEC, {"accuracy": 0.5}, "demo for the board")[0].value == 0.5
    with pytest.raises(GateConfigError, match="no threshold on"):
        resolve_thresholds(SPEC, {"latency": 1.0})
    # the same value with a weaker comparison is looser too
    assert Threshold("accuracy", ">=", 0.92).looser_than(SPEC.floors[0])
    assert not Threshold("accuracy", ">", 0.92).looser_than(SPEC.floors[0])
    assert Threshold("ratio", "<=", 1.2).looser_than(Threshold("ratio", "<=", 1.1))


def test_project_gates_have_the_design_floors():
    specs = load_gate_specs()
    assert specs["intent_gate"].floors == (Threshold("real_in_scope_accuracy", ">", 0.92),
                                           Threshold("real_oos_recall", ">=", 0.90), Threshold("ece", "<=", 0.05))
    assert specs["embedder_gate"].floors[1] == Threshold("recall_at_5_gap_to_no_dp", "<=", 0.05)
    assert gate_for_model("intent-classifier").name == "intent_gate"
    assert gate_for_model("convbot-student-llm-int8").name == "llm_gate"
    assert specs["dpo_preference_gate"].floors[0].value == 0.85
    with pytest.raises(GateConfigError, match="no gate"):
        gate_for_model("something-else")


def test_a_looser_regression_tolerance_needs_a_recorded_reason():
    from evals.gate import GateConfigError, PairedDifference, decide, load_gate_specs, resolve_regression

    spec = load_gate_specs()["intent_gate"]
    drop = PairedDifference(-0.01, -0.02, -0.005, 500)
    assert not decide(spec, (), {}, drop).passed
    with pytest.raises(GateConfigError, match="override_reason"):
        resolve_regression(spec, 0.05)
    looser = resolve_regression(spec, 0.05, "a test")
    assert looser.regression.tolerance == 0.05 and decide(looser, (), {}, drop).passed
    assert resolve_regression(spec, None) is spec
    with pytest.raises(GateConfigError, match="no regression rule"):
        resolve_regression(load_gate_specs()["guard_gate"], 0.1, "a test")
