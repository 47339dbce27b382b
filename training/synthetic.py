"""Synthetic intent utterances: template slot filling plus LLM paraphrase, filtered and deduplicated."""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
from rapidfuzz import fuzz

from .catalog import OUT_OF_SCOPE, IntentCatalog, placeholders
from .dedup import NEAR_DUPLICATE_RATIO, dedupe, normalize
from .out_of_scope import out_of_scope_rows
from .paraphrase import FEW_SHOT, Paraphraser
from .variation import variants

# `group`: the template (intent and seed) a row was expanded from; a paraphrase keeps its source's group.
# Splits keep a group together, so the test split asks for templates the model has not seen.
COLUMNS = ["text", "intent", "source", "group"]
# the catalog domain of intents that are not requests (greetings, thanks): see `training.variation.vary`
SMALL_TALK = "small_talk"
# Part of the cache key of generated data: bump it when templates, filters or dedupe change.
GENERATOR_VERSION = 3

_CHATTER = re.compile(
    r"^(sure|here(?:'s| is| are)|okay,? here|certainly|i'm (an|here|sorry)|i am (an|here|sorry)|i can help|"
    r"as an ai|rewrite|rewritten|paraphrase)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SynthesisConfig:
    per_intent_templates: int = 120
    paraphrase_sources_per_intent: int = 4
    paraphrases_per_source: int = 3
    min_words: int = 1
    max_words: int = 24
    max_length_ratio: float = 2.0
    min_similarity: float = 35.0
    near_duplicate_ratio: float = NEAR_DUPLICATE_RATIO
    variants_per_intent: int = 0  # surface variants (casing, typos, indirect requests), `training.variation`
    out_of_scope_rows: int = 0  # generated off-topic requests for the out-of-scope intent, `training.out_of_scope`
    seed: int = 13


@dataclass
class SynthesisResult:
    frame: pd.DataFrame
    rejected: Counter = field(default_factory=Counter)

    def stats(self) -> dict:
        lengths = self.frame["text"].str.split().str.len()
        return {
            "rows": int(len(self.frame)),
            "per_intent": {k: int(v) for k, v in self.frame["intent"].value_counts().sort_index().items()},
            "per_source": {k: int(v) for k, v in self.frame["source"].value_counts().items()},
            "words_mean": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
            "words_p50": float(lengths.median()) if len(lengths) else 0.0,
            "words_max": int(lengths.max()) if len(lengths) else 0,
            "rejected": dict(self.rejected),
        }


def fill_templates(catalog: IntentCatalog, per_intent: int, rng: random.Random) -> list[tuple[str, str, str, str]]:
    """Random seed x slot values x prefix/suffix, until `per_intent` distinct texts or attempts run out.
    Rows are (text, intent, "template", group), the group naming the seed the text was expanded from."""
    rows = []
    for intent in catalog.intents:
        texts: dict[str, str] = {}
        # the seeds themselves first, with their slots filled
        for attempt in range(per_intent * 20):
            if len(texts) >= per_intent:
                break
            # randrange draws exactly as choice did, so the generated texts are unchanged
            k = attempt if attempt < len(intent.seeds) else rng.randrange(len(intent.seeds))
            seed = intent.seeds[k]
            values = {s: rng.choice(catalog.slots[s]) for s in placeholders(seed)}
            body = seed.format(**values)
            if attempt >= len(intent.seeds):
                body = rng.choice(catalog.prefixes) + body + rng.choice(catalog.suffixes)
            texts.setdefault(body.strip(), f"{intent.name}/seed{k}")
        rows += [(t, intent.name, "template", texts[t]) for t in sorted(texts)]
    return rows


def _contains_word(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE) is not None


def _slot_values_in(text: str, catalog: IntentCatalog) -> list[str]:
    return [v for values in catalog.slots.values() for v in values if _contains_word(text, v)]


def reject_reason(source: str, candidate: str, catalog: IntentCatalog, cfg: SynthesisConfig) -> str | None:
    """Why a generated rewrite is unusable, or None if it is fine."""
    words = candidate.split()
    if not candidate:
        return "empty"
    if not cfg.min_words <= len(words) <= min(cfg.max_words, cfg.max_length_ratio * len(source.split()) + 2):
        return "length"
    if any(c in candidate for c in "{}<>|\n") or _CHATTER.match(candidate):
        return "chatter"
    if normalize(candidate) == normalize(source):
        return "copy"
    if fuzz.token_set_ratio(normalize(candidate), normalize(source)) < cfg.min_similarity:
        return "off_topic"
    if any(fuzz.ratio(normalize(candidate), normalize(dst)) >= 70 for _, dst in FEW_SHOT):
        return "prompt_echo"
    if not all(_contains_word(candidate, v) for v in _slot_values_in(source, catalog)):
        return "lost_slot"
    return None


def synthesize(
    catalog: IntentCatalog, cfg: SynthesisConfig, paraphraser: Paraphraser | None = None
) -> SynthesisResult:
    rng = random.Random(cfg.seed)
    rows = fill_templates(catalog, cfg.per_intent_templates, rng)
    rejected: Counter = Counter()

    if paraphraser is not None and cfg.paraphrase_sources_per_intent > 0 and cfg.paraphrases_per_source > 0:
        sources: list[tuple[str, str, str]] = []
        for intent in catalog.intents:
            pool = [(t, g) for t, i, _, g in rows if i == intent.name]
            sources += [(t, intent.name, g) for t, g in rng.sample(pool, min(len(pool), cfg.paraphrase_sources_per_intent))]
        candidates = paraphraser.paraphrase([s for s, _, _ in sources], cfg.paraphrases_per_source)
        for (src, intent, group), cands in zip(sources, candidates):
            for cand in cands:
                reason = reject_reason(src, cand, catalog, cfg)
                if reason:
                    rejected[reason] += 1
                else:
                    rows.append((cand, intent, "paraphrase", group))

    if cfg.variants_per_intent > 0:
        small_talk = frozenset(i.name for i in catalog.intents if i.domain == SMALL_TALK)
        rows += variants(rows, cfg.variants_per_intent, cfg.seed, not_requests=small_talk)
    if cfg.out_of_scope_rows > 0 and OUT_OF_SCOPE in catalog.labels:
        rows += out_of_scope_rows(cfg.out_of_scope_rows, cfg.seed, OUT_OF_SCOPE)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = drop_duplicates(frame, cfg.near_duplicate_ratio, rejected)
    return SynthesisResult(frame.reset_index(drop=True), rejected)


def drop_duplicates(
    frame: pd.DataFrame, threshold: float | None, counter: Counter | None = None
) -> pd.DataFrame:
    """Drop texts claimed by two intents, exact duplicates, and (with a threshold) near-duplicates
    within an intent."""
    norm = frame["text"].map(normalize)
    labels_per_text = frame.assign(_n=norm).groupby("_n")["intent"].nunique()
    conflicting = norm.map(labels_per_text) > 1
    if counter is not None:
        counter["conflicting_label"] += int(conflicting.sum())
    frame = frame[~conflicting]
    keep: list[int] = []
    for _, group in frame.groupby("intent", sort=False):
        kept, dropped = dedupe(group["text"].tolist(), threshold)
        keep += group.index[kept].tolist()
        if counter is not None:
            counter["duplicate"] += len(dropped)
    return frame.loc[sorted(keep)]
