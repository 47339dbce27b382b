"""Post-processing of every answer: the guard's output check (LLM answers), PII removal, brand rules
(banned phrases, sign-off, tone) from a YAML file re-read when it changes, and refusals in the brand voice."""

from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .turn import Turn

OWN_ANSWERS = {"template", "tool", "retrieval", "clarify"}  # routes whose answer the bot wrote


class BrandRules:
    """The brand file, re-read whenever its modification time changes (no restart needed)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._rules: dict = {}
        self.reload_if_changed()

    def reload_if_changed(self) -> dict:
        mtime = os.stat(self.path).st_mtime_ns
        if mtime != self._mtime:
            with self._lock:
                if mtime != self._mtime:
                    rules = yaml.safe_load(self.path.read_text()) or {}
                    if not isinstance(rules, dict) or "refusals" not in rules:
                        raise ValueError(f"{self.path}: a brand file needs at least `refusals: {{default: ...}}`")
                    self._rules, self._mtime = rules, mtime
        return self._rules

    def refusal(self, category: str | None = None) -> str:
        refusals = self.reload_if_changed()["refusals"]
        return refusals.get(category or "default") or refusals["default"]

    def rewrite(self, text: str) -> str:
        """Banned phrases and tone rules; no sign-off, so that a streamed answer can be rewritten piece by piece."""
        rules = self.reload_if_changed()
        for phrase, replacement in (rules.get("banned_phrases") or {}).items():
            text = re.sub(re.escape(phrase), replacement, text, flags=re.IGNORECASE)
        tone = rules.get("tone") or {}
        if tone.get("no_shouting") and sum(c.isupper() for c in text) > 0.6 * max(1, sum(c.isalpha() for c in text)):
            text = text.lower().capitalize()
        limit = tone.get("max_exclamation_marks")
        if limit is not None:
            parts = text.split("!")
            text = "!".join(parts[: limit + 1]) + ".".join([""] + parts[limit + 1:]) if len(parts) > limit + 1 else text
        return re.sub(r"\s{2,}", " ", text).strip()

    def sign_off(self) -> str:
        return (self.reload_if_changed().get("sign_off") or "").strip()

    def apply(self, text: str) -> str:
        """A whole answer in the brand's voice: rewritten, then signed off once."""
        text, sign_off = self.rewrite(text), self.sign_off()
        return f"{text} {sign_off}" if sign_off and not text.endswith(sign_off) else text


@dataclass
class PostProcess:
    brand: BrandRules
    output_guard: object | None = None  # GuardClassifier: LLM answers are checked before anyone sees them
    redact: object = None  # text -> text; PII removal (training.pii) by default
    name: str = "postprocess"
    always: bool = True
    blocked_outputs: int = field(default=0)

    def __post_init__(self):
        if self.redact is None:
            from training.pii import redact_many

            from .coalesce import Coalescing

            self.redact_texts = lambda texts: [r.text for r in redact_many(texts)]
            # the texts of concurrent turns share one spaCy pass (`redact_many`: less CPU, less time holding the GIL)
            batch = Coalescing(self.redact_texts)
            self.redact = lambda text: batch([text])[0]
        else:
            self.redact_texts = lambda texts: [self.redact(text) for text in texts]
        # the answers the bot writes itself (templates, tools, retrieval) repeat, and redaction costs a spaCy
        # and Presidio pass each (~6 ms, holding the GIL); LLM answers and users' texts are never kept here
        self._redact_own = functools.lru_cache(maxsize=2048)(self.redact)

    def check_output(self, turn: Turn, text: str) -> bool:
        """True when the text may be shown; on an unsafe LLM answer the turn becomes a refusal."""
        if self.output_guard is None or turn.route != "llm" or not text:
            return True
        verdict = self.output_guard.check([text], answers=True)[0]
        if verdict.unsafe:
            self.blocked_outputs += 1
            turn.guard = {**turn.guard, "output_blocked": True, "output_category": verdict.category}
            turn.route, turn.refused, turn.refusal_category = "refusal", True, verdict.category or "output"
            turn.answer = self.brand.refusal(verdict.category)
            return False
        return True

    def finish_piece(self, text: str) -> str:
        """One streamed piece of an answer: redacted and rewritten, not signed off (the stream ends with that)."""
        return self.brand.rewrite(self.redact(text))

    def __call__(self, turn: Turn) -> Turn:
        """The turn's answer, ready to show. The user's text is redacted when the turn is stored (`Bot.store`)."""
        if turn.refused:
            turn.answer = self.brand.refusal(turn.refusal_category) if not turn.answer else turn.answer
            return turn
        if not turn.answer:
            turn.answer = self.brand.refusal(None)
        if self.check_output(turn, turn.answer):
            own = turn.route in OWN_ANSWERS
            turn.answer = self.brand.apply(self._redact_own(turn.answer) if own else self.redact(turn.answer))
        return turn
