"""The input (and output) safety classifier: a sequence classifier over "safe" and unsafe categories.

Trained by the pipeline (`guard_model`) from the base encoder on prompts the project writes itself;
its thresholds on P(unsafe) = 1 - P(safe), one for requests and a stricter one for the LLM's answers
(`training.guard`), are chosen on its own validation split and saved in the model's config
(`convbot_guard`), so they travel with the model. A model saved before the output threshold existed
checks answers at its request threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.guard import GUARD_KEY, SAFE
from training.intent_predictor import IntentPredictor


@dataclass(frozen=True)
class GuardVerdict:
    unsafe: bool
    score: float  # P(unsafe)
    category: str | None  # the most likely unsafe category


class GuardClassifier:
    def __init__(self, predictor: IntentPredictor):
        settings = getattr(predictor.model.config, GUARD_KEY, None)
        if not settings or "threshold" not in settings:
            raise ValueError("the guard model records no threshold (convbot_guard in its config): train it with "
                             "training.guard")
        if SAFE not in predictor.labels:
            raise ValueError(f"the guard model has no '{SAFE}' label: {predictor.labels}")
        self.predictor = predictor
        self.threshold = float(settings["threshold"])
        self.output_threshold = float(settings.get("output_threshold", self.threshold))
        self.safe_index = predictor.labels.index(SAFE)

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> "GuardClassifier":
        return cls(IntentPredictor.from_pretrained(model_dir))

    def unsafe_scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        proba = self.predictor.predict_proba(texts)
        unsafe = 1.0 - proba[:, self.safe_index]
        masked = proba.copy()
        masked[:, self.safe_index] = -1
        return unsafe, masked.argmax(axis=1)

    def check(self, texts: list[str], answers: bool = False) -> list[GuardVerdict]:
        """Requests, or with `answers` the LLM's answers (judged at the output threshold)."""
        threshold = self.output_threshold if answers else self.threshold
        scores, cats = self.unsafe_scores(texts)
        return [GuardVerdict(bool(s >= threshold), float(s), self.predictor.labels[c] if s >= threshold else None)
                for s, c in zip(scores, cats)]
