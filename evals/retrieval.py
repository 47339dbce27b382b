"""Paraphrase retrieval metrics for sentence embedders: recall@1, recall@5 and MRR.

Held-out paraphrase pairs are two different utterances of the same intent: two ways of making one request.
Each pair's first text is a query and its second text the answer. The answer is ranked among the held-out
utterances of every *other* intent (the pool); the query's intent's other utterances are left out of its
candidates, because they are paraphrases of it too. The first version of this metric ranked the answer among
every pair's answer, so the intent's other answers counted as misses: an encoder that puts every utterance of
an intent first, in any order within it, scored about min(5, m) / m on an intent with m pairs (0.70 on the
pipeline's test split, where the base encoder already scored 0.67), and only a pair's own word overlap could
lift a model above that.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from training.catalog import OUT_OF_SCOPE

# 2: answers ranked among other intents' utterances (1: among every pair's answer); part of every fingerprint
TASK_VERSION = 2


@dataclass(frozen=True)
class PairTask:
    """Held-out paraphrase pairs and the pool their answers are ranked in."""
    pairs: tuple[tuple[str, str], ...]
    pair_labels: tuple[frozenset[str], ...]  # the intents of a pair's query and answer (usually one)
    pool: tuple[str, ...]  # every held-out text, once; queries and answers are among them
    pool_labels: tuple[frozenset[str], ...]  # a text written for two intents carries both

    def __len__(self) -> int:
        return len(self.pairs)

    def fingerprint(self) -> str:
        """Identifies the pairs and the pool: ranks kept from one task are only comparable with the same task."""
        import hashlib
        import json

        body = json.dumps([TASK_VERSION, self.pairs, [sorted(x) for x in self.pair_labels], self.pool,
                           [sorted(x) for x in self.pool_labels]])
        return f"v{TASK_VERSION}-{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def paraphrase_task(texts: list[str], labels: list[str], per_label: int = 10, seed: int = 0,
                    unpaired: frozenset[str] = frozenset({OUT_OF_SCOPE})) -> PairTask:
    """Up to `per_label` disjoint (a, b) pairs per label, deterministic for a seed, over a pool of every text.
    Texts of an `unpaired` label (out of scope: two off-topic requests are not paraphrases) make no pair and
    stay in the pool as candidates."""
    by_label: dict[str, list[str]] = {}
    owners: dict[str, set[str]] = {}
    for t, y in zip(texts, labels):
        by_label.setdefault(y, []).append(t)
        owners.setdefault(t, set()).add(y)
    rng = random.Random(seed)
    pairs, pair_labels = [], []
    for label in sorted(set(by_label) - set(unpaired)):
        items = sorted(set(by_label[label]))
        rng.shuffle(items)
        for i in range(0, min(len(items) - 1, 2 * per_label), 2):
            pairs.append((items[i], items[i + 1]))
            pair_labels.append(frozenset(owners[items[i]] | owners[items[i + 1]]))
    pool = sorted(owners)
    return PairTask(tuple(pairs), tuple(pair_labels), tuple(pool), tuple(frozenset(owners[t]) for t in pool))


def retrieval_ranks(embed, task: PairTask):
    """Rank of each query's answer (1 = first) among the answer and the pool's utterances of intents that neither
    the query nor the answer belongs to, by cosine similarity. `embed(list[str]) -> (n, d) L2-normalised array`."""
    import numpy as np

    if len(task) < 2:
        raise ValueError("need at least two paraphrase pairs")
    index = {t: i for i, t in enumerate(task.pool)}
    missing = sorted({t for pair in task.pairs for t in pair} - set(index))
    if missing:
        raise ValueError(f"pair texts missing from the pool: {missing[:3]}")
    pool = np.asarray(embed(list(task.pool)), dtype=np.float32)
    queries = np.array([index[a] for a, _ in task.pairs])
    answers = np.array([index[b] for _, b in task.pairs])
    # every score from one product, so the answer and a candidate of equal similarity tie exactly
    scores = pool[queries] @ pool.T
    right = scores[np.arange(len(task)), answers]
    candidate = np.array([[not (owners & labels) for owners in task.pool_labels] for labels in task.pair_labels])
    if not candidate.any(axis=1).all():
        raise ValueError("every pair needs utterances of another intent to be ranked against")
    # ties counted against the answer: a collapsed encoder that scores everything alike must not rank it first
    return 1 + ((scores >= right[:, None]) & candidate).sum(axis=1)


def retrieval_metrics(embed, task: PairTask, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Recall@k and MRR of `retrieval_ranks`."""
    return metrics_from_ranks(retrieval_ranks(embed, task), ks)


def metrics_from_ranks(ranks, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    import numpy as np

    ranks = np.asarray(ranks, dtype=np.float64)
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
