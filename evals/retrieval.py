"""Paraphrase retrieval metrics for sentence embedders: recall@1, recall@5 and MRR.

Held-out paraphrase pairs are two different utterances of the same intent: two ways of making one request.
Each pair's first text is a query and its second text the answer. The answer is ranked among the held-out
utterances of every *other* intent (the pool); the query's intent's other utterances are left out of its
candidates, because they are paraphrases of it too. Counting them as misses (as the first version of this
metric did, with every pair's answer as the corpus) caps recall@5 at what an encoder of the intents alone
reaches, min(5, m) / m on an intent with m pairs: nothing in the data makes a pair's own answer closer to its
query than the intent's other utterances, so that version could not tell a good encoder from a perfect one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class PairTask:
    """Held-out paraphrase pairs and the pool their answers are ranked in."""
    pairs: list[tuple[str, str]]
    pair_labels: list[str]
    pool: list[str]  # every held-out text, once
    pool_labels: list[frozenset[str]]  # a text written for two intents carries both

    def __len__(self) -> int:
        return len(self.pairs)


def paraphrase_task(texts: list[str], labels: list[str], per_label: int = 10, seed: int = 0) -> PairTask:
    """Up to `per_label` disjoint (a, b) pairs per label, deterministic for a seed, over a pool of every text."""
    by_label: dict[str, list[str]] = {}
    owners: dict[str, set[str]] = {}
    for t, y in zip(texts, labels):
        by_label.setdefault(y, []).append(t)
        owners.setdefault(t, set()).add(y)
    rng = random.Random(seed)
    pairs, pair_labels = [], []
    for label in sorted(by_label):
        items = sorted(set(by_label[label]))
        rng.shuffle(items)
        for i in range(0, min(len(items) - 1, 2 * per_label), 2):
            pairs.append((items[i], items[i + 1]))
            pair_labels.append(label)
    pool = sorted(owners)
    return PairTask(pairs, pair_labels, pool, [frozenset(owners[t]) for t in pool])


def retrieval_ranks(embed, task: PairTask):
    """Rank of each query's answer (1 = first) among the answer and the pool's utterances of other intents, by
    cosine similarity. `embed(list[str]) -> (n, d) L2-normalised array`."""
    import numpy as np

    if len(task) < 2:
        raise ValueError("need at least two paraphrase pairs")
    queries = np.asarray(embed([a for a, _ in task.pairs]), dtype=np.float32)
    answers = np.asarray(embed([b for _, b in task.pairs]), dtype=np.float32)
    pool = np.asarray(embed(task.pool), dtype=np.float32)
    right = (queries * answers).sum(axis=1)
    others = queries @ pool.T
    candidate = np.array([[label not in owners for owners in task.pool_labels] for label in task.pair_labels])
    if not candidate.any(axis=1).all():
        raise ValueError("every pair needs utterances of another intent to be ranked against")
    # ties counted against the answer: a collapsed encoder that scores everything alike must not rank it first
    return 1 + ((others >= right[:, None]) & candidate).sum(axis=1)


def retrieval_metrics(embed, task: PairTask, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Recall@k and MRR of `retrieval_ranks`."""
    return metrics_from_ranks(retrieval_ranks(embed, task), ks)


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
