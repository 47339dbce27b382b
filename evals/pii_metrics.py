"""PII redaction scored against labelled spans: recall and precision, overall and per kind.

Redaction is judged as a privacy reviewer would: a labelled span is caught only when every letter and
digit of it was redacted (by a span of any kind: "José Núñez" -> "[NAME]é Núñez" is a miss); a
redacted span is correct when it overlaps some labelled span (whatever its kind). Per-kind recall uses
the labelled kind, per-kind precision the kind the redactor gave. `kind_agreement` says how often the
redactor named a caught span's kind right.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable

from evals.intent_metrics import wilson_interval


def read_labelled(path: str | Path) -> list[dict]:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, row in enumerate(rows, start=1):
        for span in row["spans"]:
            if row["text"][span["start"]:span["end"]] != span["value"]:
                raise ValueError(f"{path}, row {i}, field 'spans': offsets do not match the value {span['value']!r}")
    return rows


def _covered(text: str, start: int, end: int, predicted: list[tuple[int, int, str]]) -> bool:
    mask = [False] * len(text)
    for s, e, _ in predicted:
        for i in range(max(s, 0), min(e, len(text))):
            mask[i] = True
    return all(mask[i] for i in range(start, end) if text[i].isalnum())


def score(rows: Iterable[dict], detect: Callable[[str], list[tuple[int, int, str]]]) -> dict:
    """`detect(text) -> [(start, end, kind)]`; returns overall and per-kind figures with 95% intervals."""
    gold_n, gold_hit = defaultdict(int), defaultdict(int)
    pred_n, pred_ok = defaultdict(int), defaultdict(int)
    kind_right = 0
    misses, false_positives = [], []
    for row in rows:
        text, gold = row["text"], row["spans"]
        predicted = [tuple(p) for p in detect(text)]
        for g in gold:
            gold_n[g["kind"]] += 1
            if _covered(text, g["start"], g["end"], predicted):
                gold_hit[g["kind"]] += 1
                kind_right += any(s < g["end"] and g["start"] < e and k == g["kind"] for s, e, k in predicted)
            else:
                misses.append({"id": row.get("id"), "kind": g["kind"], "value": g["value"]})
        for s, e, k in predicted:
            pred_n[k] += 1
            if any(s < g["end"] and g["start"] < e for g in gold):
                pred_ok[k] += 1
            else:
                false_positives.append({"id": row.get("id"), "kind": k, "value": text[s:e]})

    def ratio(hit: int, n: int) -> dict:
        if n == 0:
            return {"value": None, "n": 0}
        lo, hi = wilson_interval(hit, n)
        return {"value": hit / n, "ci95": [lo, hi], "n": n}

    total_gold, total_hit = sum(gold_n.values()), sum(gold_hit.values())
    total_pred, total_ok = sum(pred_n.values()), sum(pred_ok.values())
    return {
        "recall": ratio(total_hit, total_gold),
        "precision": ratio(total_ok, total_pred),
        "kind_agreement": kind_right / total_hit if total_hit else None,
        "per_kind": {k: {"recall": ratio(gold_hit[k], gold_n[k]), "precision": ratio(pred_ok[k], pred_n[k])}
                     for k in sorted(set(gold_n) | set(pred_n))},
        "misses": misses,
        "false_positives": false_positives,
    }
