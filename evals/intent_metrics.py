"""Held-out intent metrics: accuracy with a Wilson 95% interval, macro-F1, per-intent P/R, ECE with a bootstrap
95% interval and the ECE a perfectly calibrated model would show on as many rows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from training.calibration import ece_if_calibrated, ece_interval, expected_calibration_error


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        raise ValueError("cannot compute a confidence interval on zero examples")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class IntentReport:
    metrics: dict[str, float]
    per_intent: dict[str, dict[str, float]]
    confusion: np.ndarray
    labels: list[str]


def intent_report(y_true: list[str], proba: np.ndarray, labels: list[str]) -> IntentReport:
    if len(y_true) == 0:
        raise ValueError("the evaluation split is empty")
    index = {l: i for i, l in enumerate(labels)}
    unknown = sorted({y for y in y_true if y not in index})
    if unknown:
        raise ValueError(f"evaluation labels unknown to the model: {unknown}")
    y = np.array([index[t] for t in y_true])
    pred = proba.argmax(axis=1)
    correct = int((pred == y).sum())
    lo, hi = wilson_interval(correct, len(y))
    ids = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=ids, zero_division=0)
    metrics = {
        "accuracy": correct / len(y),
        "accuracy_ci95_low": lo,
        "accuracy_ci95_high": hi,
        "macro_f1": float(f1_score(y, pred, labels=ids, average="macro", zero_division=0)),
        "ece": expected_calibration_error(proba, y),
        **dict(zip(("ece_ci95_low", "ece_ci95_high"), ece_interval(proba, y))),
        "ece_if_calibrated": ece_if_calibrated(proba),
        "n": float(len(y)),
    }
    per_intent = {
        labels[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i in ids
    }
    return IntentReport(metrics, per_intent, confusion_matrix(y, pred, labels=ids), labels)
