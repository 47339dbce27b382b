"""Import real labeled utterances: CLINC150's JSON format or a plain CSV with `text,intent`."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from .errors import DataValidationError


@dataclass
class ImportResult:
    frame: pd.DataFrame
    quarantined: list[dict] = field(default_factory=list)


def _clinc_rows(path: Path, splits: Iterable[str]) -> Iterator[tuple[str, object]]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataValidationError(path, f"line {exc.lineno}", None, f"not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise DataValidationError(path, None, None, "expected an object of splits, e.g. {\"train\": [[text, intent], ...]}")
    for split in splits:
        if split not in data:
            raise DataValidationError(path, None, split, f"no split '{split}' (found: {sorted(data)})")
        for i, row in enumerate(data[split]):
            yield f"{split}[{i}]", row


def _csv_rows(path: Path) -> Iterator[tuple[str, object]]:
    with path.open(newline="", encoding="utf-8-sig") as f:  # utf-8-sig: spreadsheet exports start with a BOM
        reader = csv.DictReader(f)
        missing = {"text", "intent"} - set(reader.fieldnames or [])
        if missing:
            raise DataValidationError(path, "line 1", ",".join(sorted(missing)), "the header must name the columns text,intent")
        for row in reader:
            yield f"line {reader.line_num}", [row.get("text"), row.get("intent")]


def import_labeled(
    path: str | Path,
    fmt: str = "csv",
    *,
    splits: Iterable[str] = ("train",),
    labels: Iterable[str] | None = None,
    intent_map: dict[str, str] | None = None,
    strict: bool = False,
) -> ImportResult:
    """Read labeled rows; unusable rows are quarantined (or raise, if `strict`).

    `intent_map` renames source labels (e.g. CLINC150's `oos` to `out_of_scope`); with `labels`
    given, a row whose (mapped) intent is not among them is an unknown intent.
    """
    path = Path(path)
    if not path.exists():
        raise DataValidationError(path, None, None, "file not found")
    if fmt == "clinc150":
        rows = _clinc_rows(path, splits)
    elif fmt == "csv":
        rows = _csv_rows(path)
    else:
        raise DataValidationError(path, None, "format", f"unknown format '{fmt}' (use 'clinc150' or 'csv')")
    allowed = set(labels) if labels is not None else None
    intent_map = intent_map or {}
    good, bad = [], []
    for where, row in rows:
        problem = None
        if not isinstance(row, (list, tuple)) or len(row) != 2:
            problem = ("row", "expected [text, intent]")
        else:
            text, intent = row
            if not isinstance(text, str) or not text.strip():
                problem = ("text", "missing or empty text")
            elif not isinstance(intent, str) or not intent.strip():
                problem = ("intent", "missing or empty intent")
            else:
                intent = intent_map.get(intent.strip(), intent.strip())
                if allowed is not None and intent not in allowed:
                    problem = ("intent", f"unknown intent '{intent}' (not in the catalog; map it with intent_map)")
        if problem:
            if strict:
                raise DataValidationError(path, where, problem[0], problem[1])
            bad.append({"file": str(path), "row": where, "field": problem[0], "reason": problem[1]})
            continue
        # every imported row is its own group (near-duplicates are grouped again when splitting)
        good.append((text.strip(), intent, f"import:{path.name}", f"import:{path.name}:{where}"))
    return ImportResult(pd.DataFrame(good, columns=["text", "intent", "source", "group"]), bad)


def load_intent_map(path: str | Path) -> dict[str, str]:
    """A YAML mapping of source label -> catalog intent; names the file and the entry when one is malformed."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise DataValidationError(path, None, None, "intent map file not found")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise DataValidationError(path, None, None, "expected a mapping of source label -> catalog intent")
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
            raise DataValidationError(path, str(key), str(key), "each entry maps a label to a catalog intent name")
    return dict(raw)
