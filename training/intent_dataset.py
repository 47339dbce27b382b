"""Train/validation/test splits with no exact or near-duplicate text shared across splits, as Parquet."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from .dedup import NEAR_DUPLICATE_RATIO, near_duplicate_groups, normalize
from .fileio import atomic_dir

SPLITS = ("train", "validation", "test")
LABELS_FILE = "labels.json"


@dataclass(frozen=True)
class SplitConfig:
    validation_fraction: float = 0.1
    test_fraction: float = 0.15
    seed: int = 7
    near_duplicate_ratio: float = NEAR_DUPLICATE_RATIO


def split_frame(frame: pd.DataFrame, cfg: SplitConfig) -> dict[str, pd.DataFrame]:
    """Stratified by intent; near-duplicate groups go to one split together."""
    rng = np.random.default_rng(cfg.seed)
    parts: dict[str, list[pd.DataFrame]] = {s: [] for s in SPLITS}
    for _, group in frame.groupby("intent", sort=True):
        group = group.reset_index(drop=True)
        gid = near_duplicate_groups(group["text"].tolist(), cfg.near_duplicate_ratio)
        ids = np.unique(gid)
        rng.shuffle(ids)
        sizes = pd.Series(gid).value_counts()
        n = len(group)
        assign: dict[int, str] = {}
        filled = {"test": 0, "validation": 0}
        for g in ids:
            if len(ids) >= 3 and filled["test"] < cfg.test_fraction * n:
                split = "test"
            elif len(ids) >= 3 and filled["validation"] < cfg.validation_fraction * n:
                split = "validation"
            else:
                split = "train"
            assign[int(g)] = split
            if split in filled:
                filled[split] += int(sizes[g])
        which = np.array([assign[int(g)] for g in gid])
        for s in SPLITS:
            parts[s].append(group[which == s])
    return {s: pd.concat(parts[s], ignore_index=True) if parts[s] else frame.iloc[:0] for s in SPLITS}


def cross_split_duplicates(splits: dict[str, pd.DataFrame], threshold: float = NEAR_DUPLICATE_RATIO) -> list[tuple]:
    """Pairs (split_a, text_a, split_b, text_b) that are exact or near duplicates across splits."""
    found = []
    names = [s for s in SPLITS if s in splits]
    norm = {s: [normalize(t) for t in splits[s]["text"]] for s in names}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if not norm[a] or not norm[b]:
                continue
            scores = process.cdist(norm[a], norm[b], scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.uint8, workers=-1)
            for ia, ib in zip(*np.nonzero(scores)):
                found.append((a, splits[a]["text"].iloc[ia], b, splits[b]["text"].iloc[ib]))
    return found


def write_dataset(splits: dict[str, pd.DataFrame], labels: list[str], out_dir: str | Path, card: dict) -> Path:
    """Write `<split>.parquet`, labels.json and a dataset card, replacing `out_dir` atomically."""
    with atomic_dir(out_dir) as tmp:
        for name, df in splits.items():
            df[["text", "intent", "source"]].to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / LABELS_FILE).write_text(json.dumps(labels, indent=2))
        (tmp / "dataset_card.json").write_text(json.dumps(card, indent=2, sort_keys=True, default=str))
    return Path(out_dir)


def load_split(data_dir: str | Path, split: str) -> pd.DataFrame:
    return pd.read_parquet(Path(data_dir) / f"{split}.parquet")


def load_labels(data_dir: str | Path) -> list[str]:
    return json.loads((Path(data_dir) / LABELS_FILE).read_text())


def config_dict(cfg: SplitConfig) -> dict:
    return asdict(cfg)
