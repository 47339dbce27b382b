"""One utterance in, (intent, confidence) out, with the bot's decision rule (`IntentPredictor.assess`) and its
runtime: what the latency benchmark times."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from serving.encoder_runtime import DEFAULT_RUNTIME, in_runtime
from training.catalog import OUT_OF_SCOPE
from training.intent_predictor import IntentPredictor


@dataclass(frozen=True)
class IntentDecision:
    intent: str
    confidence: float
    fallback: bool


class IntentStage:
    """Out of scope (the fallback) where the predictor's in-scope score is below its threshold."""

    def __init__(self, predictor: IntentPredictor, runtime: str = DEFAULT_RUNTIME):
        """`runtime`: where the passes run, as the bot's `encoder_runtime` (onnx, onnx-int8 or torch)."""
        import torch

        torch.set_num_threads(1)  # one request per worker: intra-op threads only add latency
        in_runtime(runtime, predictor)
        self.predictor = predictor.prepare()

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, runtime: str = DEFAULT_RUNTIME) -> "IntentStage":
        return cls(IntentPredictor.from_pretrained(model_dir), runtime)

    def classify(self, utterance: str) -> IntentDecision:
        assessed = self.predictor.assess([utterance])
        intent = assessed.decisions[0]
        return IntentDecision(intent, float(assessed.confidence[0]), intent == OUT_OF_SCOPE)
