"""Confidence calibration and the decision threshold, both chosen on a validation split.

Temperature scaling (Guo et al., 2017): one scalar T divides the logits so that the softmax's
confidence matches accuracy; it is fitted by minimising the negative log-likelihood on validation
logits and leaves the argmax unchanged. The out-of-scope threshold is then chosen on the same
validation split: below it an in-scope prediction becomes out-of-scope.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np



def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by the share of rows."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def ece_interval(proba: np.ndarray, y_true: np.ndarray, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap 95% interval of `expected_calibration_error` over the rows."""
    rng = np.random.default_rng(seed)
    proba, y_true = np.asarray(proba), np.asarray(y_true)
    n = len(y_true)
    draws = [expected_calibration_error(proba[i], y_true[i]) for i in rng.integers(0, n, (resamples, n))]
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def ece_if_calibrated(proba: np.ndarray, draws: int = 200, seed: int = 0) -> float:
    """The median ECE that a perfectly calibrated model with these confidences would show on this many rows:
    labels drawn from the probabilities themselves. ECE is biased upward on few rows; a measured ECE near this
    floor says little, one well above it is miscalibration."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(proba / proba.sum(axis=1, keepdims=True), axis=1)
    values = []
    for _ in range(draws):
        u = rng.random((len(proba), 1))
        labels = np.minimum((cumulative < u).sum(axis=1), proba.shape[1] - 1)
        values.append(expected_calibration_error(proba, labels))
    return float(np.median(values))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The T minimising validation NLL (bounded scalar search on log T: the NLL is smooth in it)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = softmax(logits, float(np.exp(log_t)))
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    res = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded")
    return float(np.exp(res.x))


def decide(proba: np.ndarray, labels: list[str], threshold: float, out_of_scope: str) -> tuple[list[str], np.ndarray]:
    """The bot's rule: the most likely intent, unless its confidence is below `threshold` (then out-of-scope).
    Returns (decisions, confidence of the most likely intent)."""
    best = proba.argmax(axis=1)
    conf = proba[np.arange(len(proba)), best]
    return [out_of_scope if c < threshold else labels[b] for b, c in zip(best, conf)], conf


def best_threshold(score: np.ndarray, in_scope: np.ndarray, correct: np.ndarray, candidates: np.ndarray) -> float:
    """The threshold on an in-scope score (below it: out-of-scope) that maximises the mean of in-scope accuracy
    and out-of-scope recall (ties: the lowest). `correct` marks rows whose intent, before any threshold, is
    right (for an out-of-scope row: the model itself said out-of-scope). Without out-of-scope rows: the lowest
    candidate, which only guards in-scope accuracy."""
    score, in_scope, correct = np.asarray(score), np.asarray(in_scope, bool), np.asarray(correct, bool)
    candidates = np.sort(np.asarray(candidates, dtype=np.float64))
    if in_scope.all():
        return float(candidates[0])
    best_t, best = float(candidates[0]), -1.0
    for t in candidates:
        kept = score >= t
        value = ((kept & correct)[in_scope].mean() + (~kept | correct)[~in_scope].mean()) / 2
        if value > best + 1e-12:
            best_t, best = float(t), float(value)
    return best_t


def choose_threshold(proba: np.ndarray, gold: list[str], labels: list[str], out_of_scope: str,
                     candidates: np.ndarray | None = None) -> float:
    """The confidence threshold (`best_threshold` on the most likely intent's probability) on validation rows.
    Without out-of-scope rows it only guards in-scope accuracy: 0."""
    gold = np.asarray(gold)
    predicted = np.asarray(labels)[proba.argmax(axis=1)]
    return best_threshold(proba.max(axis=1), gold != out_of_scope, predicted == gold,
                          np.linspace(0.0, 0.95, 96) if candidates is None else candidates)


@dataclass(frozen=True)
class Calibration:
    temperature: float
    threshold: float
    ece_before: float
    ece_after: float
    fitted_on: str = "validation"
    n: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def calibrate(logits: np.ndarray, gold: list[str], labels: list[str], out_of_scope: str) -> Calibration:
    index = {l: i for i, l in enumerate(labels)}
    y = np.array([index[g] for g in gold])
    t = fit_temperature(logits, y)
    proba = softmax(logits, t)
    return Calibration(t, choose_threshold(proba, gold, labels, out_of_scope),
                       expected_calibration_error(softmax(logits), y), expected_calibration_error(proba, y), n=len(y))
