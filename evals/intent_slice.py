"""The real evaluation slice: what people actually write, scored with the bot's own decision rule.

CLINC150 `test` utterances of the intents the catalog shares with CLINC150 (same name, or mapped by
`configs/clinc150_map.yaml`) plus its `oos_test` utterances as out-of-scope. Training never sees
these splits. Decisions follow the bot (`IntentPredictor.assess`): the most likely intent from calibrated
probabilities, out-of-scope below the model's threshold on its in-scope score (fitted at training time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evals.intent_metrics import wilson_interval
from training.catalog import OUT_OF_SCOPE
from training.real_data import import_labeled


@dataclass
class RealSlice:
    frame: pd.DataFrame  # text, intent (a catalog label or out_of_scope)
    covered: list[str]  # in-scope catalog intents with rows in the slice
    in_scope_labels: list[str]  # every in-scope catalog intent

    @property
    def coverage(self) -> str:
        return f"{len(self.covered)} of {len(self.in_scope_labels)} in-scope intents"


def build_real_slice(clinc_path: str | Path, labels: list[str], intent_map: dict[str, str],
                     splits: tuple[str, ...] = ("test", "oos_test")) -> RealSlice:
    mapping = {"oos": OUT_OF_SCOPE, **intent_map}
    # out-of-scope rows stay in even when the model has no out-of-scope class: its threshold must catch them
    imported = import_labeled(clinc_path, "clinc150", splits=list(splits), labels=[*labels, OUT_OF_SCOPE],
                              intent_map=mapping)
    frame = imported.frame[["text", "intent"]].reset_index(drop=True)
    in_scope = [label for label in labels if label != OUT_OF_SCOPE]
    covered = sorted(set(frame["intent"]) - {OUT_OF_SCOPE})
    if frame.empty or not covered:
        raise ValueError(f"{clinc_path}: no CLINC150 rows map onto the catalog's intents {labels}")
    return RealSlice(frame, covered, in_scope)


def _ratio(hits: int, n: int) -> tuple[float, float, float]:
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    lo, hi = wilson_interval(hits, n)
    return hits / n, lo, hi


def _auroc_ci(y: np.ndarray, score: np.ndarray, rounds: int = 500, seed: int = 0) -> tuple[float, float, float]:
    from sklearn.metrics import roc_auc_score

    if y.all() or not y.any():
        return float("nan"), float("nan"), float("nan")
    point = float(roc_auc_score(y, score))
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(rounds):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].all() or not y[idx].any():
            continue
        stats.append(roc_auc_score(y[idx], score[idx]))
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return point, float(lo), float(hi)


def score_slice(decisions: list[str], in_scope_score: np.ndarray | None, gold: list[str]) -> dict[str, float]:
    """In-scope accuracy, out-of-scope recall and precision (Wilson 95% intervals) at the decisions given, and
    the threshold-free trade-off: AUROC of in-scope vs out-of-scope by the score the decisions threshold
    (`IntentPredictor.assess`: the best in-scope probability, or the novelty score; None: no AUROC)."""
    decisions, gold = np.asarray(decisions), np.asarray(gold)
    inscope = gold != OUT_OF_SCOPE
    said_oos = decisions == OUT_OF_SCOPE
    acc = _ratio(int((decisions[inscope] == gold[inscope]).sum()), int(inscope.sum()))
    rec = _ratio(int(said_oos[~inscope].sum()), int((~inscope).sum()))
    prec = _ratio(int((said_oos & ~inscope).sum()), int(said_oos.sum()))
    figures = [("in_scope_accuracy", acc), ("oos_recall", rec), ("oos_precision", prec)]
    if in_scope_score is not None:
        figures.append(("auroc", _auroc_ci(inscope, np.asarray(in_scope_score, dtype=np.float64))))
    out = {}
    for name, (value, lo, hi) in figures:
        out.update({name: value, f"{name}_ci95_low": lo, f"{name}_ci95_high": hi})
    out.update({"n_in_scope": float(inscope.sum()), "n_oos": float((~inscope).sum())})
    return out


def correct_per_row(decisions: list[str], gold: list[str]) -> list[bool]:
    return [d == g for d, g in zip(decisions, gold)]


def score_bot_in_scope(bot, frame: pd.DataFrame, session_prefix: str = "intent"
                       ) -> tuple[dict[str, float], dict[str, bool]]:
    """The whole bot's routing path (guard, then the intent stage) on the slice's in-scope rows: the share
    answered with the right intent, as a user gets it. A turn the guard refuses has no intent (a miss): this is
    below the intent model's own accuracy by the real requests the guard refuses (`bot_real_in_scope_refused`
    is their share). (figures, {text: whether the bot gave its intent}): the canary's golden set
    replays some of these requests against the live bot and compares it with them."""
    from tqdm.auto import tqdm

    rows = frame[frame["intent"] != OUT_OF_SCOPE]
    turns = [bot.route(f"{session_prefix}-{i}", text)
             for i, text in enumerate(tqdm(rows["text"].tolist(), desc="real in-scope rows", unit="turn"))]
    correct = correct_per_row([t.intent for t in turns], rows["intent"].tolist())
    accuracy, lo, hi = _ratio(sum(correct), len(turns))
    return {"bot_real_in_scope_accuracy": accuracy, "bot_real_in_scope_accuracy_ci95_low": lo,
            "bot_real_in_scope_accuracy_ci95_high": hi,
            "bot_real_in_scope_refused": sum(t.refused for t in turns) / len(turns) if turns else float("nan"),
            "bot_real_in_scope_n": float(len(turns))}, dict(zip(rows["text"], correct))
