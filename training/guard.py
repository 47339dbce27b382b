"""Training the guard: the intent trainer on safety prompts (labels "safe" and unsafe categories), then the
threshold on P(unsafe) chosen on the guard's own validation split and saved in the model's config."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .fileio import atomic_write_text
from .intent_dataset import load_split
from .intent_predictor import IntentPredictor
from .intent_trainer import IntentTrainConfig, TrainOutcome, train_intent_model

GUARD_KEY = "convbot_guard"
SAFE = "safe"


def choose_guard_threshold(scores: np.ndarray, unsafe: np.ndarray, min_recall: float = 0.97) -> float:
    """The highest threshold that still catches `min_recall` of the unsafe validation prompts (fewest safe
    prompts refused at that recall); when none does, the one with the best balanced accuracy."""
    scores, unsafe = np.asarray(scores, dtype=float), np.asarray(unsafe, dtype=bool)
    if not unsafe.any() or unsafe.all():
        raise ValueError("the validation split needs both safe and unsafe prompts to choose a threshold")
    candidates = np.unique(np.concatenate([scores, [0.5]]))
    best, best_balanced = 0.5, -1.0
    for t in sorted(candidates, reverse=True):
        flagged = scores >= t
        recall = flagged[unsafe].mean()
        if recall >= min_recall:
            return float(t)
        balanced = (recall + (~flagged[~unsafe]).mean()) / 2
        if balanced > best_balanced:
            best, best_balanced = float(t), float(balanced)
    return best


@dataclass
class GuardOutcome:
    train: TrainOutcome
    threshold: float
    validation_recall: float
    validation_false_positive_rate: float


def train_guard(data_dir: str | os.PathLike, encoder_path: str | os.PathLike, work_dir: str | os.PathLike,
                cfg: IntentTrainConfig, min_recall: float = 0.97, metrics_sink=None) -> GuardOutcome:
    """`data_dir` is a dataset folder as `write_dataset` writes it, with `intent` = "safe" or an unsafe category."""
    outcome = train_intent_model(data_dir, encoder_path, work_dir, cfg, metrics_sink=metrics_sink)
    predictor = IntentPredictor.from_pretrained(outcome.model_dir)
    if SAFE not in predictor.labels:
        raise ValueError(f"{data_dir}: no '{SAFE}' rows: the guard needs safe examples")
    val = load_split(data_dir, "validation")
    proba = predictor.predict_proba(val["text"].tolist())
    scores = 1.0 - proba[:, predictor.labels.index(SAFE)]
    unsafe = (val["intent"] != SAFE).to_numpy()
    threshold = choose_guard_threshold(scores, unsafe, min_recall)
    flagged = scores >= threshold
    config_path = Path(outcome.model_dir) / "config.json"
    config = json.loads(config_path.read_text())
    config[GUARD_KEY] = {"threshold": threshold, "min_recall": min_recall, "chosen_on": "validation",
                         "validation_recall": float(flagged[unsafe].mean()),
                         "validation_false_positive_rate": float(flagged[~unsafe].mean())}
    atomic_write_text(config_path, json.dumps(config, indent=2, sort_keys=True))
    return GuardOutcome(outcome, threshold, float(flagged[unsafe].mean()), float(flagged[~unsafe].mean()))
