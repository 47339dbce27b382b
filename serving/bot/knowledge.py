"""Retrieval over the knowledge file the project ships (FAQ answers per intent), with a sentence encoder:
the DP embedder when it passed its gate, the base encoder otherwise. Answers carry their citations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    def __init__(self, entries: list[Entry], encoder):
        self.entries, self.encoder = entries, encoder
        self.vectors = np.asarray(encoder.encode([f"{e.question} {e.answer}" for e in entries],
                                                 normalize_embeddings=True), dtype=np.float32)

    def search(self, query: str, intent: str | None = None, k: int = 3) -> list[tuple[Entry, float]]:
        q = np.asarray(self.encoder.encode([query], normalize_embeddings=True), dtype=np.float32)[0]
        scores = self.vectors @ q
        order = np.argsort(-scores)
        hits = [(self.entries[i], float(scores[i])) for i in order]
        if intent is not None:  # prefer the predicted intent's own answers
            own = [h for h in hits if h[0].intent == intent]
            hits = own + [h for h in hits if h[0].intent != intent]
        return hits[:k]
