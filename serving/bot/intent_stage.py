"""The intent stage: the trained classifier with its calibrated confidence and threshold, then slots."""

from __future__ import annotations

from dataclasses import dataclass

from training.intent_predictor import IntentPredictor

from .slots import SlotExtractor
from .turn import Turn


@dataclass
class IntentStage:
    predictor: IntentPredictor
    slots: SlotExtractor
    name: str = "intent"
    always: bool = False

    def __call__(self, turn: Turn) -> Turn:
        decisions, confidence = self.predictor.decide([turn.clean])
        turn.intent, turn.confidence = decisions[0], float(confidence[0])
        turn.slots = self.slots.extract(turn.clean, turn.intent)
        return turn
