"""Unicode normalisation, whitespace, control characters and a length limit: a clear 4xx, never a crash."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .turn import InputRejected, Turn

_SPACE = re.compile(r"\s+")
SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def check_session_id(session_id: object) -> str:
    if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
        raise InputRejected("session_id must be 1-64 characters: letters, digits, '_', '-', '.', ':' "
                            "(starting with a letter or digit)", 400, "invalid_session_id")
    return session_id


@dataclass
class Preprocess:
    max_chars: int = 1000
    name: str = "preprocess"
    always: bool = False

    def __call__(self, turn: Turn) -> Turn:
        check_session_id(turn.session_id)
        if not isinstance(turn.text, str):
            raise InputRejected("text must be a string")
        text = unicodedata.normalize("NFKC", turn.text)
        # control and format characters (zero-width, bidi overrides) are dropped: they hide text from people
        text = "".join(c for c in text if unicodedata.category(c)[0] != "C" or c in "\n\t")
        text = _SPACE.sub(" ", text).strip()
        if not text:
            raise InputRejected("text is empty", 400, "empty_text")
        if len(text) > self.max_chars:
            raise InputRejected(f"text is {len(text)} characters; the limit is {self.max_chars}", 413, "text_too_long")
        turn.clean = text
        return turn
