"""Canary analysis: each metric of the canary against the stable version, decided by statistics.

In the manner of Argo Rollouts' analysis (a phase per measurement, worst-of ordering) and Netflix
Kayenta's judge (per metric a test with a confidence interval on the shift, a tolerance band and a
direction; NaN/no-data handling; a weighted score in which critical metrics fail the whole canary),
plus a hard floor on sample size: too few requests can never pass.

Rates (errors, refusals, guard blocks, corrections) compare proportions: the difference canary - stable with
a Newcombe interval and a one-sided z test. Continuous metrics (latency, intent confidence) use the
Mann-Whitney U test with the Hodges-Lehmann shift and its confidence interval (relative to the stable
median). The tolerance is the degradation worth catching, and it sets the sample size: a rate needs the
canary requests that detect a rise of `tolerance` over the stable's own rate with power 0.8 at alpha 0.05.

A metric FAILs when it is significantly worse in its bad direction (one-sided p < 0.05 divided by the number of
metrics judged together, Bonferroni) by at least half the
tolerance, or when its whole interval lies beyond the tolerance (so a badly broken canary fails on few
requests); it PASSes once the sample size is reached without failing; before that it is INCONCLUSIVE.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


class Phase(str, enum.Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    FAILED = "Failed"

    @property
    def completed(self) -> bool:
        return self in (Phase.SUCCESSFUL, Phase.FAILED, Phase.ERROR, Phase.INCONCLUSIVE)


# worst-of: a set of results is as bad as its worst member
_SEVERITY = {Phase.SUCCESSFUL: 0, Phase.PENDING: 1, Phase.RUNNING: 1, Phase.INCONCLUSIVE: 2, Phase.ERROR: 3,
             Phase.FAILED: 4}


def worst(phases: Sequence[Phase]) -> Phase:
    return max(phases, key=lambda p: _SEVERITY[p]) if phases else Phase.PENDING


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # "rate" (0/1 per request) or "continuous"
    bad_direction: str  # "up" (higher is worse) or "down"
    tolerance: float  # rate: absolute difference; continuous: relative shift of the stable median
    weight: float = 1.0
    critical: bool = False  # a FAIL here fails the canary whatever the score
    min_samples: int = 20
    # compared only while stable serves traffic at the same time: at 100% the canary carries all the load
    # that stable shared before, and latency under a different load is not a like-for-like comparison
    load_dependent: bool = False


# tolerances: the degradation each metric must catch (absolute for rates, relative to stable's median otherwise)
DEFAULT_METRICS = (
    MetricSpec("error_rate", "rate", "up", 0.05, weight=3.0, critical=True),
    MetricSpec("latency_ms", "continuous", "up", 0.5, weight=2.0, load_dependent=True),
    MetricSpec("refusal_rate", "rate", "up", 0.10, weight=1.0),
    MetricSpec("guard_block_rate", "rate", "up", 0.10, weight=1.0),
    MetricSpec("correction_rate", "rate", "up", 0.15, weight=1.0),
    MetricSpec("intent_confidence", "continuous", "down", 0.15, weight=1.0),
)


@dataclass(frozen=True)
class Measurement:
    """One metric's comparison over one window: immutable, with its start and finish times."""
    metric: str
    phase: Phase
    stable_n: int
    canary_n: int
    stable_value: float
    canary_value: float
    shift: float  # canary - stable (rates) or relative Hodges-Lehmann shift (continuous)
    ci_low: float
    ci_high: float
    statistic: float  # z for rates, U for Mann-Whitney
    p_value: float
    tolerance: float
    started_at: float
    finished_at: float
    note: str = ""

    def to_dict(self) -> dict:
        """Compact (records keep one per metric per stage)."""
        r = lambda x: None if x is None or x != x else round(float(x), 4)  # noqa: E731 - NaN -> None
        return {"metric": self.metric, "phase": self.phase.value, "n": [self.stable_n, self.canary_n],
                "values": [r(self.stable_value), r(self.canary_value)], "shift": r(self.shift),
                "ci95": [r(self.ci_low), r(self.ci_high)], "statistic": r(self.statistic), "p": r(self.p_value),
                "tolerance": self.tolerance, **({"note": self.note} if self.note else {})}


ALPHA = 0.05


def _decide(shift: float, low: float, high: float, p_value: float, tolerance: float, bad_up: bool,
            enough: bool, alpha: float = ALPHA) -> Phase:
    worse = shift if bad_up else -shift  # degradation in the bad direction (positive = worse)
    beyond = low > tolerance if bad_up else high < -tolerance
    if beyond or (p_value < alpha and worse >= tolerance / 2):
        return Phase.FAILED
    return Phase.SUCCESSFUL if enough else Phase.INCONCLUSIVE


def compare_rates(spec: MetricSpec, stable: Sequence[float], canary: Sequence[float], started_at: float,
                  z: float = 1.959964, alpha: float = ALPHA) -> Measurement:
    """Difference of proportions with a Newcombe (Wilson score) 95% interval."""
    now = time.time()
    n1, n2 = len(stable), len(canary)
    if n1 < spec.min_samples or n2 < spec.min_samples:
        return Measurement(spec.name, Phase.INCONCLUSIVE, n1, n2, float("nan"), float("nan"), float("nan"),
                           float("nan"), float("nan"), float("nan"), float("nan"), spec.tolerance, started_at, now,
                           f"no data: {n1} stable / {n2} canary samples, {spec.min_samples} needed")
    p1, p2 = float(np.mean(stable)), float(np.mean(canary))

    def wilson(p, n):
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        return centre - half, centre + half

    l1, u1 = wilson(p1, n1)
    l2, u2 = wilson(p2, n2)
    d = p2 - p1
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) if 0 < pooled < 1 else 0.0
    stat = d / se if se > 0 else 0.0
    from scipy.stats import norm

    p_value = float(norm.sf(stat)) if spec.bad_direction == "up" else float(norm.cdf(stat))
    needed = max(spec.min_samples, samples_for_margin(p1 if spec.bad_direction == "up" else 1 - p1, spec.tolerance))
    phase = _decide(d, low, high, p_value, spec.tolerance, spec.bad_direction == "up", n2 >= needed, alpha)
    note = "" if n2 >= needed or phase == Phase.FAILED else f"{n2} of the {needed} canary samples that detect the tolerance"
    return Measurement(spec.name, phase, n1, n2, p1, p2, d, low, high, stat, p_value, spec.tolerance, started_at, now,
                       note)


def hodges_lehmann(x: np.ndarray, y: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Shift y - x (median of pairwise differences) with its distribution-free confidence interval."""
    from scipy.stats import norm

    diffs = np.sort(np.subtract.outer(y, x).ravel())
    n, m = len(x), len(y)
    k = int(math.floor(n * m / 2 - norm.ppf(0.5 + confidence / 2) * math.sqrt(n * m * (n + m + 1) / 12)))
    k = min(max(k, 0), len(diffs) - 1)
    return float(np.median(diffs)), float(diffs[k]), float(diffs[len(diffs) - 1 - k])


def compare_continuous(spec: MetricSpec, stable: Sequence[float], canary: Sequence[float],
                       started_at: float, alpha: float = ALPHA) -> Measurement:
    from scipy.stats import mannwhitneyu

    now = time.time()
    x, y = np.asarray(stable, dtype=float), np.asarray(canary, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if len(x) < spec.min_samples or len(y) < spec.min_samples:
        return Measurement(spec.name, Phase.INCONCLUSIVE, len(x), len(y), float("nan"), float("nan"), float("nan"),
                           float("nan"), float("nan"), float("nan"), float("nan"), spec.tolerance, started_at, now,
                           f"no data: {len(x)} stable / {len(y)} canary samples, {spec.min_samples} needed")
    alternative = "greater" if spec.bad_direction == "up" else "less"
    u, p = mannwhitneyu(y, x, alternative=alternative)
    shift, lo, hi = hodges_lehmann(x, y)
    scale = abs(float(np.median(x))) or 1.0
    phase = _decide(shift / scale, lo / scale, hi / scale, float(p), spec.tolerance, spec.bad_direction == "up", True,
                    alpha)
    return Measurement(spec.name, phase, len(x), len(y), float(np.median(x)), float(np.median(y)), shift / scale,
                       lo / scale, hi / scale, float(u), float(p), spec.tolerance, started_at, now)


def compare(spec: MetricSpec, stable: Sequence[float], canary: Sequence[float], started_at: float,
            alpha: float = ALPHA) -> Measurement:
    """`alpha`: the one-sided test's level for this metric (a stage judging k metrics uses ALPHA / k, so that a
    healthy canary fails a stage by chance at most 5% of the time)."""
    if spec.kind == "rate":
        return compare_rates(spec, stable, canary, started_at, alpha=alpha)
    return compare_continuous(spec, stable, canary, started_at, alpha=alpha)


@dataclass
class Judgement:
    phase: Phase
    score: float
    measurements: list[Measurement] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def judge(measurements: list[Measurement], specs: Sequence[MetricSpec] = DEFAULT_METRICS,
          pass_score: float = 0.95, marginal_score: float = 0.75) -> Judgement:
    """Weighted score of passing metrics; a failed critical metric fails the canary; between the marginal and
    pass scores the result is inconclusive (the bake goes on), under the marginal score it fails."""
    weight = {s.name: s.weight for s in specs}
    critical = {s.name for s in specs if s.critical}
    total = sum(weight[m.metric] for m in measurements) or 1.0
    score = sum(weight[m.metric] for m in measurements if m.phase == Phase.SUCCESSFUL) / total
    failed_critical = [m.metric for m in measurements if m.metric in critical and m.phase == Phase.FAILED]
    reasons = [f"{m.metric}: {m.phase.value} (shift {m.shift:+.3f}, 95% CI [{m.ci_low:+.3f}, {m.ci_high:+.3f}], "
               f"tolerance {m.tolerance:g}; n {m.stable_n}/{m.canary_n}){' ' + m.note if m.note else ''}"
               for m in measurements]
    if failed_critical:
        return Judgement(Phase.FAILED, score, measurements, [f"critical metric failed: {', '.join(failed_critical)}", *reasons])
    if score >= pass_score:
        return Judgement(Phase.SUCCESSFUL, score, measurements, reasons)
    if score < marginal_score and not any(m.phase == Phase.INCONCLUSIVE for m in measurements):
        return Judgement(Phase.FAILED, score, measurements, reasons)  # enough data, and clearly worse
    return Judgement(Phase.INCONCLUSIVE, score, measurements, reasons)


def samples_for_margin(baseline: float, margin: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Requests per side that detect a rise of `margin` over a `baseline` rate (one-sided two-proportion test)."""
    from scipy.stats import norm

    p1, p2 = baseline, min(baseline + margin, 0.999)
    pbar = (p1 + p2) / 2
    za, zb = norm.ppf(1 - alpha), norm.ppf(power)
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / margin ** 2
    return int(math.ceil(n))
