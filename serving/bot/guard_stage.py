"""The guard stage: rules for prompt injection and data exfiltration, then the safety classifier."""

from __future__ import annotations

from dataclasses import dataclass

from serving.guard.classifier import GuardClassifier
from serving.guard.rules import match_rules

from .turn import Turn


@dataclass
class GuardStage:
    classifier: GuardClassifier | None  # None: rules only (what a bundle without a guard model gets)
    refusal: "object"  # callable(category) -> refusal text in the brand voice
    name: str = "guard"
    always: bool = False

    def __call__(self, turn: Turn) -> Turn:
        hit = match_rules(turn.clean)
        if hit is not None:
            turn.guard = {"blocked": True, "category": hit.kind, "rule": hit.rule}
            turn.finish("refusal", self.refusal(hit.kind), refused=True, category=hit.kind)
            return turn
        if self.classifier is None:
            turn.guard = {"blocked": False, "classifier": "none"}
            return turn
        verdict = self.classifier.check([turn.clean])[0]
        turn.guard = {"blocked": verdict.unsafe, "category": verdict.category, "score": round(verdict.score, 4)}
        if verdict.unsafe:
            turn.finish("refusal", self.refusal(verdict.category), refused=True, category=verdict.category)
        return turn
