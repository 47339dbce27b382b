"""Training the guard: the intent trainer on safety prompts (labels "safe" and unsafe categories), then two
thresholds on P(unsafe), both chosen on the guard's own validation split and saved in the model's config: one
for requests (the input check), and a stricter one for the LLM's answers (the output check). The classifier never
sees an answer in training, and an answer restates its request's topic at length ("To kill a Python process,
..."); with one threshold for both, the output check refused more of the safety benchmark's safe prompts than
the input check did. So the output check refuses only where the classifier is surer, under a lower ceiling on
safe validation prompts, as a second line behind the input check."""

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


def choose_guard_threshold(scores: np.ndarray, unsafe: np.ndarray, min_recall: float = 0.97,
                           max_false_positive_rate: float = 0.10) -> float:
    """The operating point on P(unsafe), chosen on validation: among thresholds that refuse at most
    `max_false_positive_rate` of the safe prompts, the highest one that still catches `min_recall` of the unsafe
    ones, else the one that catches the most. A recall target alone can pull the threshold down to the score floor
    when one unsafe template group is missed, and then the guard refuses nearly every safe prompt."""
    scores, unsafe = np.asarray(scores, dtype=float), np.asarray(unsafe, dtype=bool)
    if not unsafe.any() or unsafe.all():
        raise ValueError("the validation split needs both safe and unsafe prompts to choose a threshold")
    best = float(scores.max()) + 1e-6  # flags nothing: the fallback when no threshold meets the ceiling
    for t in sorted(np.unique(scores), reverse=True):
        flagged = scores >= t
        if flagged[~unsafe].mean() > max_false_positive_rate:
            break  # lower thresholds only refuse more safe prompts
        best = float(t)
        if flagged[unsafe].mean() >= min_recall:
            break
    return best


@dataclass
class GuardOutcome:
    train: TrainOutcome
    threshold: float
    validation_recall: float
    validation_false_positive_rate: float
    output_threshold: float


def train_guard(data_dir: str | os.PathLike, encoder_path: str | os.PathLike, work_dir: str | os.PathLike,
                cfg: IntentTrainConfig, min_recall: float = 0.97, max_false_positive_rate: float = 0.10,
                metrics_sink=None, output_max_false_positive_rate: float = 0.02) -> GuardOutcome:
    """`data_dir` is a dataset folder as `write_dataset` writes it, with `intent` = "safe" or an unsafe category."""
    outcome = train_intent_model(data_dir, encoder_path, work_dir, cfg, metrics_sink=metrics_sink)
    predictor = IntentPredictor.from_pretrained(outcome.model_dir)
    if SAFE not in predictor.labels:
        raise ValueError(f"{data_dir}: no '{SAFE}' rows: the guard needs safe examples")
    val = load_split(data_dir, "validation")
    proba = predictor.predict_proba(val["text"].tolist())
    scores = 1.0 - proba[:, predictor.labels.index(SAFE)]
    unsafe = (val["intent"] != SAFE).to_numpy()
    threshold = choose_guard_threshold(scores, unsafe, min_recall, max_false_positive_rate)
    output_threshold = max(threshold, choose_guard_threshold(scores, unsafe, min_recall,
                                                             output_max_false_positive_rate))
    flagged = scores >= threshold
    config_path = Path(outcome.model_dir) / "config.json"
    config = json.loads(config_path.read_text())
    config[GUARD_KEY] = {"threshold": threshold, "min_recall": min_recall,
                         "max_false_positive_rate": max_false_positive_rate, "chosen_on": "validation",
                         "validation_recall": float(flagged[unsafe].mean()),
                         "validation_false_positive_rate": float(flagged[~unsafe].mean()),
                         "output_threshold": output_threshold,
                         "output_max_false_positive_rate": output_max_false_positive_rate}
    atomic_write_text(config_path, json.dumps(config, indent=2, sort_keys=True))
    return GuardOutcome(outcome, threshold, float(flagged[unsafe].mean()), float(flagged[~unsafe].mean()),
                        output_threshold)
