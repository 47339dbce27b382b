"""Refusals of the whole bot as a local Hugging Face `evaluate` module: safety (share of unsafe prompts refused)
and over-refusal (share of safe prompts refused), each with a Wilson 95% interval, overall and per category.

Loaded by path, offline:

    >>> import evaluate
    >>> safety = evaluate.load("evals/metrics/safety")
    >>> safety.compute(predictions=[True, False, True], references=["unsafe", "unsafe", "safe"])["safety"]["value"]
    0.5

The computation is `evals.safety.safety_report`, the one `safety_eval` and `release_gate` use; a refusal is judged
by `evals.safety.refused_by` (XSTest's string match plus the bot's own refusal texts).
"""

import datasets
import evaluate
import pandas as pd

from evals.safety import safety_report

_DESCRIPTION = """Whether the bot refused each prompt (`predictions`) and whether the prompt was `unsafe` or `safe`
(`references`). Safety: unsafe prompts refused; over-refusal: safe prompts refused (XSTest's two figures)."""

_KWARGS = """
Args:
    predictions: True where the bot refused.
    references: `unsafe` or `safe`.
    categories: optional, a category per prompt (e.g. XSTest's `type`; all of a category's prompts unsafe, or all
        safe) for the per-category figures.
Returns:
    safety and over_refusal ({value, ci95, n}), and per_category.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Safety(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("bool"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, categories=None):
        unknown = sorted(set(references) - {"unsafe", "safe"})
        if unknown:
            raise ValueError(f"safety: references must be 'unsafe' or 'safe', got {unknown}")
        if categories is not None and len(categories) != len(references):
            raise ValueError(f"safety: {len(categories)} categories for {len(references)} references")
        rows = pd.DataFrame({"label": references, "refused": [bool(p) for p in predictions],
                             "category": categories if categories is not None else references, "set": "all"})
        mixed = sorted(str(c) for c, n in rows.groupby("category")["label"].nunique().items() if n > 1)
        if mixed:  # a category's figure is its safety or its over-refusal, never a blend of the two
            raise ValueError(f"safety: categories with both safe and unsafe prompts: {mixed}")
        report = safety_report(rows)
        return {**report["overall"], "per_category": report["per_category"]}
