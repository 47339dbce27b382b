"""The intent catalog: intents with descriptions, slot types and seed utterances, read from YAML."""

from __future__ import annotations

import string
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import DataValidationError, DataValidationErrors

OUT_OF_SCOPE = "out_of_scope"


class Intent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    domain: str
    description: str = Field(min_length=1)
    slots: list[str] = Field(default_factory=list)
    seeds: list[str] = Field(min_length=1)

    @field_validator("seeds")
    @classmethod
    def _seeds_not_blank(cls, seeds: list[str]) -> list[str]:
        for i, s in enumerate(seeds):
            if not s or not s.strip():
                raise ValueError(f"seed {i} is empty")
        return seeds


class IntentCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = 1
    prefixes: list[str] = Field(default_factory=lambda: [""])
    suffixes: list[str] = Field(default_factory=lambda: [""])
    slots: dict[str, list[str]] = Field(default_factory=dict)
    intents: list[Intent] = Field(min_length=2)

    @property
    def labels(self) -> list[str]:
        return [i.name for i in self.intents]

    def intent(self, name: str) -> Intent:
        for i in self.intents:
            if i.name == name:
                return i
        raise KeyError(name)


def placeholders(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


def _describe_loc(raw: dict, loc: tuple) -> tuple[str | None, str]:
    """Turn a pydantic error location into (row, field) a person can find in the YAML."""
    if len(loc) >= 2 and loc[0] == "intents" and isinstance(loc[1], int):
        idx = loc[1]
        intents = raw.get("intents") or []
        name = intents[idx].get("name") if idx < len(intents) and isinstance(intents[idx], dict) else None
        row = f"intent #{idx + 1}" + (f" ('{name}')" if name else "")
        field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc[2:]).replace(".[", "[")
        return row, field or "intents"
    return None, ".".join(str(p) for p in loc)


def _semantic_problems(path: Path, raw: dict) -> list[DataValidationError]:
    """Problems pydantic cannot see (duplicates, undefined slot types, placeholders), read from the raw
    YAML so that they are reported together with any schema error in the same file."""
    problems = []
    slot_values = raw.get("slots") if isinstance(raw.get("slots"), dict) else {}
    seen: set[str] = set()
    seed_owner: dict[str, str] = {}  # normalised seed -> the row that wrote it first
    intents = raw.get("intents") if isinstance(raw.get("intents"), list) else []
    for idx, intent in enumerate(intents):
        if not isinstance(intent, dict):
            continue
        name = intent.get("name")
        row = f"intent #{idx + 1}" + (f" ('{name}')" if name else "")
        if name in seen:
            problems.append(DataValidationError(path, row, "name", f"duplicate intent name '{name}'"))
        seen.add(name)
        slots = intent.get("slots") if isinstance(intent.get("slots"), list) else []
        for slot in slots:
            if isinstance(slot, str) and not slot_values.get(slot):
                problems.append(DataValidationError(path, row, "slots", f"slot type '{slot}' has no values under 'slots'"))
        seeds = intent.get("seeds") if isinstance(intent.get("seeds"), list) else []
        for s_idx, seed in enumerate(seeds):
            if not isinstance(seed, str):
                continue
            # a repeated seed is two template groups of one text: the split would hold it out against itself
            key = " ".join(seed.lower().split())
            if key in seed_owner:
                problems.append(DataValidationError(path, row, f"seeds[{s_idx}]",
                                                    f"seed '{seed}' repeats a seed of {seed_owner[key]}"))
            seed_owner.setdefault(key, row)
            try:
                used = placeholders(seed)
            except ValueError as exc:
                problems.append(DataValidationError(path, row, f"seeds[{s_idx}]", f"bad placeholder: {exc}"))
                continue
            for slot in used:
                if slot not in slots:
                    problems.append(DataValidationError(
                        path, row, f"seeds[{s_idx}]", f"placeholder '{{{slot}}}' is not one of the intent's slots {slots}"))
    return problems


def load_catalog(path: str | Path) -> IntentCatalog:
    """Read and validate a catalog. Every problem of the file is reported at once, each naming its row and
    field (DataValidationErrors, a DataValidationError listing them all)."""
    path = Path(path)
    if not path.exists():
        raise DataValidationError(path, None, None, "catalog file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = f"line {mark.line + 1}" if mark else None
        raise DataValidationError(path, row, None, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise DataValidationError(path, None, None, "expected a mapping with 'name', 'slots' and 'intents'")
    problems: list[DataValidationError] = []
    catalog = None
    try:
        catalog = IntentCatalog.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            row, field = _describe_loc(raw, tuple(err["loc"]))
            problems.append(DataValidationError(path, row, field, err["msg"]))
    problems += _semantic_problems(path, raw)
    if problems:
        raise problems[0] if len(problems) == 1 else DataValidationErrors(problems)
    return catalog
