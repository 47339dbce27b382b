"""Intent decisions on real wording as a local Hugging Face `evaluate` module: in-scope accuracy, out-of-scope
recall and precision (Wilson 95% intervals), and, given the score the decisions threshold, the AUROC of in-scope
against out-of-scope.

Loaded by path, offline:

    >>> import evaluate
    >>> intent = evaluate.load("evals/metrics/intent")
    >>> intent.compute(predictions=["weather", "out_of_scope", "book_flight"],
    ...                references=["weather", "out_of_scope", "out_of_scope"])["oos_recall"]
    0.5

The computation is `evals.intent_slice.score_slice`, the one `intent_eval` and `intent_gate` use on the real
slice; the bot's decisions come from `IntentPredictor.assess`.
"""

import datasets
import evaluate

from evals.intent_slice import score_slice

_DESCRIPTION = """The bot's intent decision per utterance (`predictions`: an intent or `out_of_scope`) against the
gold label (`references`). In-scope accuracy is over utterances whose gold label is an intent; out-of-scope recall
over those whose gold label is `out_of_scope`; out-of-scope precision over those the bot called out of scope."""

_KWARGS = """
Args:
    predictions: the decided labels (`out_of_scope` for a refusal to route).
    references: the gold labels.
    in_scope_scores: optional, the score the decisions threshold (higher = more in scope); adds the AUROC.
Returns:
    in_scope_accuracy, oos_recall, oos_precision (each with _ci95_low / _ci95_high), n_in_scope, n_oos, and with
    scores auroc and its bootstrap interval.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Intent(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, in_scope_scores=None):
        if not references:
            raise ValueError("intent: no utterances to score")
        if in_scope_scores is not None and len(in_scope_scores) != len(references):
            raise ValueError(f"intent: {len(in_scope_scores)} in_scope_scores for {len(references)} references")
        return score_slice(predictions, in_scope_scores, references)
