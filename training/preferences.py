"""Preference pairs from redacted feedback: prompt, chosen = the correction, rejected = the bot's answer.

Pairs are deduplicated on their normalised text; the held-out split is drawn by prompt, so the same
user request never sits on both sides. Stored as JSONL in TRL's conversational preference format
(`prompt`, `chosen`, `rejected` as message lists) under data/preferences/.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .feedback import Feedback
from .fileio import atomic_dir

SPLITS = ("train", "heldout")


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
            "session_id": record.session_id, "timestamp": record.timestamp}


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

    def bucket(prompt: str) -> float:  # stable per prompt text, independent of order and of the other rows
        digest = hashlib.sha256(f"{cfg.seed}|{_norm(prompt)}".encode()).hexdigest()
        return int(digest[:12], 16) / 16**12

    splits = {s: [] for s in SPLITS}
    for pair in pairs:
        side = "heldout" if bucket(pair["prompt"][0]["content"]) < cfg.heldout_fraction else "train"
        splits[side].append(pair)
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
