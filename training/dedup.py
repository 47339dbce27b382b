"""Exact and near-duplicate detection for short utterances (rapidfuzz string similarity)."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from rapidfuzz import fuzz, process

# Two utterances whose normalised forms score at least this (0-100, rapidfuzz `ratio`) are
# near-duplicates: "book flight to paris" / "book a flight to paris now" score ~90, while
# "book a flight to paris" / "please book a flight to paris" (~86) are kept apart.
NEAR_DUPLICATE_RATIO = 90.0

_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


def dedupe(texts: list[str], threshold: float | None = NEAR_DUPLICATE_RATIO) -> tuple[list[int], list[int]]:
    """Greedy dedupe in order: returns (kept indices, dropped indices). `threshold=None`: exact only."""
    kept: list[int] = []
    kept_norm: list[str] = []
    seen: set[str] = set()
    dropped: list[int] = []
    for i, t in enumerate(texts):
        n = normalize(t)
        if not n or n in seen or (
            threshold is not None and kept_norm
            and process.extractOne(n, kept_norm, scorer=fuzz.ratio, score_cutoff=threshold)
        ):
            dropped.append(i)
            continue
        seen.add(n)
        kept.append(i)
        kept_norm.append(n)
    return kept, dropped


def near_duplicate_groups(texts: list[str], threshold: float = NEAR_DUPLICATE_RATIO,
                          known_groups: list | None = None, links: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Group id per text so that near-duplicates (transitively) share a group; texts with the same
    `known_groups` label (e.g. the template they came from) share one too, and so do the index pairs in
    `links` (e.g. template siblings)."""
    norm = [normalize(t) for t in texts]
    n = len(norm)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        scores = process.cdist(norm, norm, scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.uint8, workers=-1)
        rows, cols = np.nonzero(np.triu(scores, k=1))
        for a, b in zip(rows.tolist(), cols.tolist()):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        # exact matches after normalisation score 100, but an empty string scores 0 against itself
        for labels in ([("text", t) for t in norm], [("group", g) for g in known_groups or []]):
            first: dict = {}
            for i, label in enumerate(labels):
                if label[1] is None or (isinstance(label[1], float) and np.isnan(label[1])):
                    continue
                j = first.setdefault(label, i)
                if j != i:
                    ra, rb = find(i), find(j)
                    parent[max(ra, rb)] = min(ra, rb)
        for a, b in links or []:
            ra, rb = find(a), find(b)
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)], dtype=np.int64)
