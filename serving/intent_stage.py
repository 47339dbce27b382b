"""The bot's intent stage: one utterance in, (intent, confidence) out, with a confidence floor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.catalog import OUT_OF_SCOPE
from training.intent_predictor import IntentPredictor


@dataclass(frozen=True)
class IntentDecision:
    intent: str
    confidence: float
    fallback: bool


class IntentStage:
    """Below `min_confidence` the utterance is routed to the out-of-scope fallback."""

    def __init__(self, predictor: IntentPredictor, min_confidence: float = 0.5):
        import torch

        torch.set_num_threads(1)  # one request per worker: intra-op threads only add latency
        self.predictor = predictor
        self.min_confidence = min_confidence

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, min_confidence: float = 0.5) -> "IntentStage":
        return cls(IntentPredictor.from_pretrained(model_dir), min_confidence)

    def classify(self, utterance: str) -> IntentDecision:
        proba = self.predictor.predict_proba([utterance])[0]
        best = int(proba.argmax())
        confidence = float(proba[best])
        if confidence < self.min_confidence:
            return IntentDecision(OUT_OF_SCOPE, confidence, True)
        return IntentDecision(self.predictor.labels[best], confidence, False)
