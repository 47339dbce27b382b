"""Retrieval over the knowledge file the project ships (FAQ answers per intent), with a sentence encoder:
the DP embedder when it passed its gate, the base encoder otherwise. Answers carry their citations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import yaml


@dataclass(frozen=True)
class Entry:
    id: str
    intent: str
    question: str
    answer: str
    source: str


def load_knowledge(path: str | Path) -> list[Entry]:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    entries = []
    for i, item in enumerate(raw.get("entries") or []):
        missing = [k for k in ("id", "intent", "question", "answer", "source") if not item.get(k)]
        if missing:
            from training.errors import DataValidationError

            raise DataValidationError(path, f"entry #{i + 1}", missing[0], "missing or empty")
        entries.append(Entry(**{k: str(item[k]) for k in ("id", "intent", "question", "answer", "source")}))
    if not entries:
        raise ValueError(f"{path}: no entries")
    return entries


class KnowledgeBase:
    def __init__(self, entries: list[Entry], encode: Callable[[list[str]], np.ndarray], wrap: Callable | None = None):
        """`encode`: texts -> normalised sentence embeddings (the retrieval encoder, in PyTorch or ONNX Runtime);
        `wrap`: what the query encoder's passes go through (the bot's `Coalescing`)."""
        self.entries = entries
        self._encode = lambda texts: np.asarray(encode(list(texts)), dtype=np.float32)
        self.vectors = self._encode([f"{e.question} {e.answer}" for e in entries])
        self._queries = wrap(self._encode) if wrap is not None else self._encode

    def search(self, query: str, intent: str | None = None, k: int = 3) -> list[tuple[Entry, float]]:
        q = self._queries([query])[0]
        scores = self.vectors @ q
        order = np.argsort(-scores)
        hits = [(self.entries[i], float(scores[i])) for i in order]
        if intent is not None:  # prefer the predicted intent's own answers
            own = [h for h in hits if h[0].intent == intent]
            hits = own + [h for h in hits if h[0].intent != intent]
        return hits[:k]
