"""Canary statistics: proportions and shifts with intervals, tolerance bands, directions, no-data, worst-of."""

import numpy as np

from serving.rollout.analysis import (
    DEFAULT_METRICS,
    MetricSpec,
    Phase,
    compare,
    hodges_lehmann,
    judge,
    samples_for_margin,
    worst,
)

RATE = MetricSpec("error_rate", "rate", "up", 0.02, critical=True, min_samples=20)
LAT = MetricSpec("latency_ms", "continuous", "up", 0.25, min_samples=20)
CONF = MetricSpec("intent_confidence", "continuous", "down", 0.10, min_samples=20)
rng = np.random.default_rng(0)


def test_a_clearly_worse_error_rate_fails_and_an_equal_one_passes():
    stable = [0] * 400
    assert compare(RATE, stable, [1] * 60 + [0] * 340, 0).phase == Phase.FAILED
    same = compare(RATE, stable, [0] * 400, 0)
    assert same.phase == Phase.SUCCESSFUL and same.ci_high <= 0.02


def test_a_small_sample_is_inconclusive_never_a_pass():
    m = compare(RATE, [0] * 10, [0] * 10, 0)
    assert m.phase == Phase.INCONCLUSIVE and "no data" in m.note
    # enough data but an interval straddling the tolerance: inconclusive
    assert compare(RATE, [0] * 40, [1] + [0] * 39, 0).phase == Phase.INCONCLUSIVE


def test_latency_shift_direction_and_hodges_lehmann():
    stable = rng.normal(100, 10, 300)
    slower = rng.normal(160, 10, 300)
    faster = rng.normal(70, 10, 300)
    assert compare(LAT, stable, slower, 0).phase == Phase.FAILED
    assert compare(LAT, stable, faster, 0).phase == Phase.SUCCESSFUL  # faster is never bad
    shift, lo, hi = hodges_lehmann(stable, slower)
    assert lo < shift < hi and 50 < shift < 70
    # confidence: down is bad
    assert compare(CONF, rng.uniform(0.8, 1.0, 300), rng.uniform(0.3, 0.5, 300), 0).phase == Phase.FAILED


def test_judge_critical_metric_fails_everything_and_worst_of():
    good = compare(LAT, rng.normal(100, 10, 200), rng.normal(100, 10, 200), 0)
    bad_errors = compare(RATE, [0] * 400, [1] * 80 + [0] * 320, 0)
    verdict = judge([good, bad_errors], (RATE, LAT))
    assert verdict.phase == Phase.FAILED and "critical metric failed: error_rate" in verdict.reasons[0]
    ok = judge([good, compare(RATE, [0] * 400, [0] * 400, 0)], (RATE, LAT))
    assert ok.phase == Phase.SUCCESSFUL and ok.score == 1.0
    assert worst([Phase.SUCCESSFUL, Phase.INCONCLUSIVE, Phase.RUNNING]) == Phase.INCONCLUSIVE
    assert worst([Phase.SUCCESSFUL, Phase.FAILED]) == Phase.FAILED and Phase.FAILED.completed
    assert not Phase.RUNNING.completed


def test_sample_size_for_a_margin():
    n = samples_for_margin(0.01, 0.05)
    assert 50 < n < 400
    assert samples_for_margin(0.01, 0.02) > n
    assert {m.name for m in DEFAULT_METRICS} >= {"error_rate", "latency_ms", "refusal_rate", "correction_rate",
                                                 "intent_confidence", "guard_block_rate"}


def test_a_stage_judging_several_metrics_tests_each_at_a_bonferroni_level():
    # 17% refusals on the canary against 10% on stable, few samples: p ~ 0.04, significant alone, not once six
    # metrics share the 5%
    spec = MetricSpec("refusal_rate", "rate", "up", 0.10)
    stable, canary = [1.0] * 20 + [0.0] * 180, [1.0] * 17 + [0.0] * 83
    assert compare(spec, stable, canary, 0.0).phase == Phase.FAILED
    assert compare(spec, stable, canary, 0.0, alpha=0.05 / 6).phase != Phase.FAILED
