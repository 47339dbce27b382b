"""One conversational turn as it moves through the bot's stages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


class BotError(Exception):
    """An error a client caused: it maps to a 4xx status, never a 500."""

    status = 400
    code = "bad_request"


class InputRejected(BotError):
    """Empty, too long, or otherwise unusable input."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_input"):
        super().__init__(message)
        self.status, self.code = status, code


@dataclass
class Turn:
    session_id: str
    text: str
    turn_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    clean: str = ""
    history: list[dict] = field(default_factory=list)
    intent: str | None = None
    confidence: float = 0.0
    slots: dict[str, str] = field(default_factory=dict)
    route: str = ""  # template | retrieval | tool | llm | clarify | refusal
    answer: str = ""
    citations: list[dict] = field(default_factory=list)
    refused: bool = False
    refusal_category: str | None = None
    guard: dict = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    done: bool = False  # a stage answered (e.g. a refusal): later stages are skipped, post-processing is not
    llm_tokens: int = 0
    ttft_ms: float | None = None  # from the turn's entry into the LLM queue to its first generated token
    first_token_at: float | None = None  # time.perf_counter() at that token
    user_redacted: str = ""  # what is stored and shown to the LLM as history: the user's text, PII removed

    def finish(self, route: str, answer: str, refused: bool = False, category: str | None = None) -> None:
        self.route, self.answer, self.refused, self.refusal_category, self.done = route, answer, refused, category, True

    def record(self) -> dict:
        """What the session store keeps of a turn: redacted text only (post-processing sets `user_redacted`)."""
        return {"turn_id": self.turn_id, "user": self.user_redacted, "bot": self.answer, "intent": self.intent,
                "route": self.route, "refused": self.refused}
