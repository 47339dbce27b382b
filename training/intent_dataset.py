"""Train/validation/test splits with no exact or near-duplicate text shared across splits, as Parquet."""

from __future__ import annotations

import json
import re
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


def split_frame(frame: pd.DataFrame, cfg: SplitConfig, links: list[tuple[int, int]] | None = None
                ) -> dict[str, pd.DataFrame]:
    """Stratified by intent; rows of one group land in one split. A group joins the rows of one template
    (the generator's `group` column: template expansions and their paraphrases), near-duplicates across
    all intents, and the row index pairs in `links` (e.g. `sibling_pairs`: imported rows carry no
    template, yet can be a template's sibling)."""
    rng = np.random.default_rng(cfg.seed)
    frame = frame.reset_index(drop=True)
    gid = near_duplicate_groups(frame["text"].tolist(), cfg.near_duplicate_ratio,
                                frame["group"].tolist() if "group" in frame else None, links)
    members = pd.Series(np.arange(len(frame))).groupby(gid).apply(list)
    # a group counts for the intent most of its rows carry
    owner = {g: frame["intent"].iloc[rows].mode().iloc[0] for g, rows in members.items()}
    groups_per_intent = pd.Series(owner).value_counts()
    size = frame["intent"].value_counts()
    quota = {"test": size * cfg.test_fraction, "validation": size * cfg.validation_fraction}
    filled = {s: pd.Series(0.0, index=size.index) for s in quota}
    which = np.empty(len(frame), dtype=object)
    order = members.index.to_numpy().copy()
    rng.shuffle(order)
    for g in order:
        intent, rows = owner[g], members[g]
        k = len(rows)
        split = "train"
        if groups_per_intent[intent] >= 3:
            for candidate in ("test", "validation"):
                # never past the quota, so a big group cannot push an intent out of train; an intent's first
                # group may take up to twice the quota (a template group is often larger than the quota)
                q = quota[candidate][intent]
                if filled[candidate][intent] + k <= max(q, 1) or (filled[candidate][intent] == 0 and k <= 2 * q):
                    split = candidate
                    break
        if split != "train":
            filled[split] = filled[split].add(frame["intent"].iloc[rows].value_counts(), fill_value=0)
        which[rows] = split
    return {s: frame[which == s].reset_index(drop=True) for s in SPLITS}


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
            df[["text", "intent", "source", *(["group"] if "group" in df else [])]].to_parquet(
                tmp / f"{name}.parquet", index=False)
        (tmp / LABELS_FILE).write_text(json.dumps(labels, indent=2))
        (tmp / "dataset_card.json").write_text(json.dumps(card, indent=2, sort_keys=True, default=str))
    return Path(out_dir)


def load_split(data_dir: str | Path, split: str) -> pd.DataFrame:
    return pd.read_parquet(Path(data_dir) / f"{split}.parquet")


def load_labels(data_dir: str | Path) -> list[str]:
    return json.loads((Path(data_dir) / LABELS_FILE).read_text())


def config_dict(cfg: SplitConfig) -> dict:
    return asdict(cfg)


_DIGITS = re.compile(r"\d+")


def skeleton(text: str, slot_pattern: re.Pattern | None, affixes: list[str]) -> str:
    """A text with catalog slot values and numbers masked and catalog prefixes/suffixes removed: template
    siblings that differ only by slot value share a skeleton."""
    s = normalize(text)
    for affix in affixes:  # longest first
        if affix and s.startswith(affix + " "):
            s = s[len(affix) + 1:]
        if affix and s.endswith(" " + affix):
            s = s[: -len(affix) - 1]
    if slot_pattern is not None:
        s = slot_pattern.sub("<slot>", s)
    return _DIGITS.sub("0", s)


def _bigrams(s: str) -> frozenset:
    words = s.split()
    return frozenset(zip(words, words[1:])) if len(words) > 1 else frozenset([(s,)])


def _skeleton_grams(texts, slot_values: list[str], affixes: list[str]) -> list[frozenset]:
    values = sorted({normalize(v) for v in slot_values if normalize(v)}, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, values)) + r")(?!\w)") if values else None
    norm_affixes = sorted({normalize(a) for a in affixes if normalize(a)}, key=len, reverse=True)
    return [_bigrams(skeleton(t, pattern, norm_affixes)) for t in texts]


def _similar(grams_a: list[frozenset], grams_b: list[frozenset], min_jaccard: float, same: bool = False):
    """Index pairs (a, b) whose bigram sets overlap by at least `min_jaccard` (a < b when both are one list)."""
    index: dict = {}
    for k, g in enumerate(grams_a):
        for gram in g:
            index.setdefault(gram, []).append(k)
    for kb, gb in enumerate(grams_b):
        for ka in {ka for gram in gb for ka in index.get(gram, ())}:
            if (not same or ka < kb) and len(grams_a[ka] & gb) / len(grams_a[ka] | gb) >= min_jaccard:
                yield ka, kb


def sibling_pairs(texts: list[str], slot_values: list[str], affixes: list[str], min_jaccard: float = 0.8
                  ) -> list[tuple[int, int]]:
    """Index pairs of template siblings within one list of texts (the relation `template_leaks` checks)."""
    grams = _skeleton_grams(texts, slot_values, affixes)
    return sorted(_similar(grams, grams, min_jaccard, same=True))


def template_leaks(splits: dict[str, pd.DataFrame], slot_values: list[str], affixes: list[str],
                   min_jaccard: float = 0.8) -> list[tuple]:
    """Cross-split pairs whose slot-masked skeletons share at least `min_jaccard` of their word bigrams:
    template siblings ("book a flight to paris" / "... to rome") in two splits, whether they came from one
    generator template or one of them was imported."""
    grams = {s: _skeleton_grams(splits[s]["text"], slot_values, affixes) for s in SPLITS if s in splits}
    names = list(grams)
    return [(a, splits[a]["text"].iloc[ka], b, splits[b]["text"].iloc[kb])
            for i, a in enumerate(names) for b in names[i + 1:]
            for ka, kb in _similar(grams[a], grams[b], min_jaccard)]
