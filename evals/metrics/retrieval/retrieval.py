"""Paraphrase retrieval as a local Hugging Face `evaluate` module: recall@k and MRR of ranked candidates.

Loaded by path, offline:

    >>> import evaluate
    >>> retrieval = evaluate.load("evals/metrics/retrieval")
    >>> retrieval.compute(predictions=[["b2", "a2", "c2"], ["b2", "c2", "a2"]], references=["a2", "b2"], ks=[1, 2])
    {'recall_at_1': 0.5, 'recall_at_2': 1.0, 'mrr': 0.75, 'pairs': 2}

The computation is `evals.retrieval.metrics_from_ranks`, the one `embedder_eval` reports;
`evals.retrieval.retrieval_ranks` builds the ranks from a sentence encoder and a `PairTask`, and `embedder_gate`
compares two encoders' ranks on the same queries (`evals.retrieval.compare_encoders`). The ranking is the
caller's: `embedder_gate` puts an answer behind every candidate that scores as high (ties count against it), so
a caller that wants the same figures orders ties that way.
"""

import datasets
import evaluate
import numpy as np

from evals.retrieval import metrics_from_ranks

_DESCRIPTION = """For each query, the candidates ranked best first (`predictions`) and the one right answer
(`references`). Recall@k: share of queries whose answer is among the first k. MRR: mean of 1 / rank of the answer
(0 when it is not ranked at all). In convbot's paraphrase task a query's candidates are its pair's answer and the
held-out utterances of the other intents."""

_KWARGS = """
Args:
    predictions: list of lists of candidate ids, best first.
    references: the right candidate id of each query.
    ks: the cut-offs (default [1, 5]).
Returns:
    recall_at_<k> for each k, mrr, and pairs (the number of queries).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Retrieval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Sequence(datasets.Value("string")),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, ks=(1, 5)):
        if not references:
            raise ValueError("retrieval: no queries to score")
        # an answer missing from its ranking counts as never retrieved (rank infinity: recall 0, reciprocal 0)
        ranks = [ranking.index(answer) + 1 if answer in ranking else np.inf
                 for ranking, answer in zip(predictions, references)]
        return metrics_from_ranks(ranks, tuple(ks))
