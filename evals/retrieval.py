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


def intent_ceiling(pairs: list[tuple[str, str]], texts: list[str], labels: list[str], k: int = 5) -> float:
    """Recall@k of an encoder that ranks every answer of the query's own intent above all others, in random
    order within the intent: on an intent with m pairs it scores min(k, m) / m. What learning the intents alone
    can reach; the pair's own answer is not closer to its query than the intent's other answers by design."""
    from collections import Counter, defaultdict

    intents = defaultdict(set)  # a text written for two intents belongs to the one its pair shares
    for text, label in zip(texts, labels):
        intents[text].add(label)
    per_intent = Counter(min(intents[a] & intents[b]) for a, b in pairs)
    return sum(min(k, m) for m in per_intent.values()) / len(pairs)


def retrieval_ranks(embed, pairs: list[tuple[str, str]]):
    """Rank of each query's answer among all answers (1 = first), by cosine similarity.
    `embed(list[str]) -> (n, d) L2-normalised array`."""
    import numpy as np

    if len(pairs) < 2:
        raise ValueError("need at least two paraphrase pairs")
    queries = np.asarray(embed([a for a, _ in pairs]), dtype=np.float32)
    corpus = np.asarray(embed([b for _, b in pairs]), dtype=np.float32)
    scores = queries @ corpus.T
    # ties counted against the answer: 1 + how many other corpus items score at least as high (a
    # collapsed encoder that scores everything alike must not rank every answer first)
    right = scores[np.arange(len(pairs)), np.arange(len(pairs))]
    return (scores >= right[:, None]).sum(axis=1)


def retrieval_metrics(embed, pairs: list[tuple[str, str]], ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Recall@k and MRR of `retrieval_ranks`."""
    return metrics_from_ranks(retrieval_ranks(embed, pairs), ks)


def metrics_from_ranks(ranks, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    import numpy as np

    ranks = np.asarray(ranks)
    out = {f"recall_at_{k}": float((ranks <= k).mean()) for k in ks}
    out["mrr"] = float((1.0 / ranks).mean())
    out["pairs"] = len(ranks)
    return out


def compare_encoders(candidate_ranks, base_ranks, reference_ranks, k: int = 5) -> dict[str, float]:
    """Recall@k of a candidate against the base encoder it started from (paired: the same queries, with a 95%
    interval of the gain) and against a reference (the same fine-tune without DP)."""
    from evals.gate import paired_difference

    hit = lambda ranks: [int(r) <= k for r in ranks]  # noqa: E731
    gain = paired_difference(hit(candidate_ranks), hit(base_ranks))
    gap = paired_difference(hit(reference_ranks), hit(candidate_ranks))
    return {f"recall_at_{k}_gain_vs_base": gain.difference, f"recall_at_{k}_gain_vs_base_ci_low": gain.low,
            f"recall_at_{k}_gain_vs_base_ci_high": gain.high, f"recall_at_{k}_gap_to_no_dp": gap.difference,
            f"recall_at_{k}_gap_to_no_dp_ci_low": gap.low, f"recall_at_{k}_gap_to_no_dp_ci_high": gap.high}
