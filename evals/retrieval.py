"""Paraphrase retrieval metrics for sentence embedders: recall@1, recall@5 and MRR.

Held-out paraphrase pairs are two different utterances of the same intent. Each pair's first text
is a query; the corpus is every pair's second text; a query's answer is its own pair's second text
(other utterances of the same intent count as misses, so the task asks for more than the intent).
"""

from __future__ import annotations

import random


def paraphrase_pairs(texts: list[str], labels: list[str], per_label: int = 10, seed: int = 0) -> list[tuple[str, str]]:
    """Up to `per_label` disjoint (a, b) pairs per label, deterministic for a seed."""
    by_label: dict[str, list[str]] = {}
    for t, y in zip(texts, labels):
        by_label.setdefault(y, []).append(t)
    rng = random.Random(seed)
    pairs = []
    for label in sorted(by_label):
        items = sorted(set(by_label[label]))
        rng.shuffle(items)
        pairs += [(items[i], items[i + 1]) for i in range(0, min(len(items) - 1, 2 * per_label), 2)]
    return pairs


def retrieval_metrics(embed, pairs: list[tuple[str, str]], ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """`embed(list[str]) -> (n, d) L2-normalised array`; cosine ranking of the corpus for each query."""
    import numpy as np

    if len(pairs) < 2:
        raise ValueError("need at least two paraphrase pairs")
    queries = np.asarray(embed([a for a, _ in pairs]), dtype=np.float32)
    corpus = np.asarray(embed([b for _, b in pairs]), dtype=np.float32)
    scores = queries @ corpus.T
    # rank of the right answer, ties counted against it: 1 + how many other corpus items score at least as
    # high (a collapsed encoder that scores everything alike must not rank every answer first)
    right = scores[np.arange(len(pairs)), np.arange(len(pairs))]
    ranks = (scores >= right[:, None]).sum(axis=1)
    out = {f"recall_at_{k}": float((ranks <= k).mean()) for k in ks}
    out["mrr"] = float((1.0 / ranks).mean())
    out["pairs"] = len(pairs)
    return out
