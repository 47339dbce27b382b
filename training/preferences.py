"""Preference pairs from redacted feedback: prompt, chosen = the correction, rejected = the bot's answer.

Pairs are deduplicated on their normalised text; the held-out split is drawn by group: a record's own
`group` (the template or scenario it came from) joined with every prompt that is a near-duplicate once
numbers are masked, so neither the same request nor its slot-filled siblings sit on both sides. Stored as JSONL in TRL's conversational preference format
(`prompt`, `chosen`, `rejected` as message lists) under data/preferences/.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .dedup import near_duplicate_groups
from .feedback import Feedback
from .fileio import atomic_dir

SPLITS = ("train", "heldout")
SIBLING_RATIO = 80.0  # looser than exact near-duplicates: joins requests that differ by a slot value
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class PreferenceConfig:
    heldout_fraction: float = 0.2
    seed: int = 0


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def to_pair(record: Feedback) -> dict:
    return {"prompt": [{"role": "user", "content": record.user_input}],
            "chosen": [{"role": "assistant", "content": record.corrected_response}],
            "rejected": [{"role": "assistant", "content": record.bot_response}],
            "session_id": record.session_id, "timestamp": record.timestamp, "group": record.group}


def build_pairs(records: list[Feedback], cfg: PreferenceConfig = PreferenceConfig()) -> tuple[dict[str, list[dict]], int]:
    """({"train": [...], "heldout": [...]}, duplicates dropped). Deterministic for a seed."""
    seen: set[tuple[str, str, str]] = set()
    pairs, duplicates = [], 0
    for record in sorted(records, key=lambda r: (r.timestamp, r.session_id)):
        key = (_norm(record.user_input), _norm(record.corrected_response), _norm(record.bot_response))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        pairs.append(to_pair(record))

    # a group: the records' own provenance (template, scenario) joined with near-duplicate prompts
    prompts = [p["prompt"][0]["content"] for p in pairs]
    gid = near_duplicate_groups([_DIGITS.sub("0", t) for t in prompts], SIBLING_RATIO, [p["group"] or None for p in pairs])
    members: dict[int, list[int]] = {}
    for i, g in enumerate(gid.tolist()):
        members.setdefault(g, []).append(i)

    def order(rows: list[int]) -> str:  # stable per group content, independent of the other rows
        return hashlib.sha256(f"{cfg.seed}|{min(_norm(prompts[i]) for i in rows)}".encode()).hexdigest()

    splits = {s: [] for s in SPLITS}
    target, held = cfg.heldout_fraction * len(pairs), 0
    for rows in sorted(members.values(), key=order):
        side = "heldout" if held < target and len(members) > 1 else "train"
        held += len(rows) if side == "heldout" else 0
        splits[side] += [pairs[i] for i in rows]
    return splits, duplicates


def write_pairs(splits: dict[str, list[dict]], target: str | Path, card: dict) -> Path:
    with atomic_dir(target) as tmp:
        for split, rows in splits.items():
            (tmp / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        (tmp / "preferences_card.json").write_text(json.dumps({**card, "rows": {s: len(r) for s, r in splits.items()}},
                                                              indent=2))
    return Path(target)


def read_pairs(target: str | Path, split: str) -> list[dict]:
    path = Path(target) / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
