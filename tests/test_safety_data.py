"""The guard's training data: unsafe requests and safe look-alikes from templates, and their splits."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from training.catalog import placeholders
from training.dedup import normalize
from training.intent_dataset import SplitConfig
from training.safety_data import (
    BENIGN, COLUMNS, FRAMES, SAFE, SAFE_TEMPLATES, SLOTS, UNSAFE, UNSAFE_CATEGORIES, UNSAFE_TEMPLATES,
    SafetyConfig, generate, guard_intent, reject_reason, safety_dataset, split_safety, templates,
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return safety_dataset(SafetyConfig())


@pytest.fixture(scope="module")
def rich() -> pd.DataFrame:
    """More fills per template than the default: what the templates can say, not what one draw of them says."""
    return safety_dataset(SafetyConfig(unsafe_per_template=12, safe_per_template=12))


@pytest.fixture(scope="module")
def splits(frame) -> dict[str, pd.DataFrame]:
    return split_safety(frame, SplitConfig())


def _has(text_series: pd.Series, phrase: str) -> pd.Series:
    return text_series.str.contains(rf"(?<!\w){re.escape(phrase)}(?!\w)", case=False, regex=True)


# --- the templates themselves ---------------------------------------------------------------------


def test_every_placeholder_has_slot_values_and_every_slot_is_used():
    used = {s for t in templates() for s in t.slots}
    assert used <= set(SLOTS), used - set(SLOTS)
    assert set(SLOTS) <= used, set(SLOTS) - used
    assert all(values and len(values) == len(set(values)) for values in SLOTS.values())
    assert all(placeholders(f) == ["x"] for f in FRAMES)


def test_template_counts():
    assert set(UNSAFE_TEMPLATES) == set(UNSAFE_CATEGORIES)
    assert set(SAFE_TEMPLATES) == set(UNSAFE_CATEGORIES) | {BENIGN}
    for cat, ts in UNSAFE_TEMPLATES.items():
        assert len(ts) >= 12, cat
        assert len(set(ts)) == len(ts), cat
    lookalikes = [t for cat, ts in SAFE_TEMPLATES.items() if cat != BENIGN for t in ts]
    assert len(lookalikes) >= 60
    assert len(set(lookalikes)) == len(lookalikes)
    # every unsafe category has several safe look-alikes (enough for a stratified split)
    assert all(len(SAFE_TEMPLATES[cat]) >= 6 for cat in UNSAFE_CATEGORIES)


# --- the generated frame --------------------------------------------------------------------------


def test_columns_and_values(frame):
    assert list(frame.columns) == COLUMNS
    assert set(frame["label"]) == {UNSAFE, SAFE}
    assert set(frame["source"]) == {"template"}
    assert set(frame.loc[frame["label"] == UNSAFE, "category"]) == set(UNSAFE_CATEGORIES)
    assert set(frame.loc[frame["label"] == SAFE, "category"]) == set(UNSAFE_CATEGORIES) | {BENIGN}
    assert not frame["text"].str.contains(r"[{}]").any()
    assert (frame["text"] == frame["text"].str.strip()).all()
    assert frame.index.tolist() == list(range(len(frame)))


def test_size_and_balance(frame):
    assert 4000 <= len(frame) <= 5500
    assert 0.40 <= (frame["label"] == UNSAFE).mean() <= 0.50
    per_cat = frame.groupby(["label", "category"]).size()
    assert per_cat.min() >= 100


def test_deterministic_for_a_seed(frame):
    pd.testing.assert_frame_equal(safety_dataset(SafetyConfig()), frame)
    other = safety_dataset(SafetyConfig(seed=14))
    assert set(other["group"]) == set(frame["group"])
    assert set(other["text"]) != set(frame["text"])


def test_no_text_with_two_labels_and_no_duplicates(frame):
    norm = frame["text"].map(normalize)
    assert not norm.duplicated().any()
    assert (frame.assign(n=norm).groupby("n")["label"].nunique() == 1).all()


def test_groups_name_their_template(frame):
    per_group = frame.groupby("group")[["label", "category"]].nunique()
    assert (per_group == 1).all().all()
    first = frame.groupby("group")[["label", "category"]].first()
    for group, row in first.iterrows():
        assert group.startswith(f"{row['label']}/{row['category']}/t")
    # every template yields rows, as many as the config asks
    assert set(frame["group"]) == {t.group for t in templates()}
    assert frame["group"].value_counts().min() == SafetyConfig().unsafe_per_template == SafetyConfig().safe_per_template
    unsafe_templates = frame[frame["label"] == UNSAFE].groupby("category")["group"].nunique()
    assert (unsafe_templates >= 12).all()
    assert frame.loc[(frame["label"] == SAFE) & (frame["category"] != BENIGN), "group"].nunique() >= 60


def test_slot_values_vary_within_a_template(rich):
    rows = rich[rich["group"] == "unsafe/violence/t00"]["text"]
    targets = {p for p in SLOTS["person"] for t in rows if p in t.lower()}
    assert len(targets) >= 4


@pytest.mark.parametrize("phrase", ["kill", "murder", "shoot", "attack", "blow up", "execute", "bomb", "poison",
                                    "hack", "crack", "steal", "track", "hate", "die", "cut", "hang", "hide",
                                    "break into", "inferior", "address", "password", "high", "torture",
                                    "counterfeit", "fake", "sexual"])
def test_safe_lookalikes_share_trigger_words(rich, phrase):
    hits = _has(rich["text"], phrase)
    assert (hits & (rich["label"] == SAFE)).sum() >= 10, phrase
    assert (hits & (rich["label"] == UNSAFE)).sum() >= 10, phrase


def test_frames_and_targets_are_no_label_cue(frame):
    """Role-play, hypothetical and fiction framings, and the people unsafe requests target, appear on both sides."""
    for phrase in ["hypothetically", "pretend you're an evil ai", "developer mode", "novel", "asking for a friend",
                   "useless bot", "my boss", "my neighbour", "a coworker", "my ex"]:
        hits = _has(frame["text"], phrase)
        assert (hits & (frame["label"] == SAFE)).sum() >= 5, phrase
        assert (hits & (frame["label"] == UNSAFE)).sum() >= 5, phrase


@pytest.mark.parametrize("phrase, label", [
    ("kill a zombie process", SAFE),
    ("crack an egg", SAFE),
    ("blow up a balloon", SAFE),
    ("what does doxxing mean", SAFE),
    ("why should toasters not be allowed to vote", SAFE),
    ("tie a noose to hang myself", UNSAFE),
    ("cook meth at home", UNSAFE),
    ("kill my boss without getting caught", UNSAFE),
])
def test_known_examples(rich, phrase, label):
    hits = rich[_has(rich["text"], phrase)]
    assert len(hits) >= 1 and set(hits["label"]) == {label}


# --- splits ---------------------------------------------------------------------------------------


def test_split_keeps_groups_together(frame, splits):
    assert sum(len(s) for s in splits.values()) == len(frame)
    groups = {name: set(s["group"]) for name, s in splits.items()}
    assert not groups["train"] & groups["validation"]
    assert not groups["train"] & groups["test"]
    assert not groups["validation"] & groups["test"]


def test_split_is_stratified_by_label_and_category(frame, splits):
    strata = set(zip(frame["label"], frame["category"]))
    for name in ("train", "validation", "test"):
        assert set(zip(splits[name]["label"], splits[name]["category"])) == strata, name
    assert 0.1 <= len(splits["test"]) / len(frame) <= 0.2


def test_split_carries_the_guard_target(splits):
    for s in splits.values():
        assert list(s.columns) == [*COLUMNS, "intent"]
        assert (s["intent"] == guard_intent(s)).all()
        assert set(s.loc[s["label"] == SAFE, "intent"]) == {SAFE}
        assert (s.loc[s["label"] == UNSAFE, "intent"] == s.loc[s["label"] == UNSAFE, "category"]).all()


# --- optional paraphrase step (a fake paraphraser, no model) --------------------------------------

_VALUES = sorted({v for vs in SLOTS.values() for v in vs}, key=len, reverse=True)
_ANY_SLOT_VALUE = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, _VALUES)) + r")(?!\w)", re.IGNORECASE)


class FakeParaphraser:
    """Per source: a good rewrite, a refusal, a copy, and a rewrite that dropped the slot values."""

    def __init__(self):
        self.calls: list[tuple[list[str], int]] = []

    def paraphrase(self, utterances: list[str], n: int) -> list[list[str]]:
        self.calls.append((list(utterances), n))
        refusal = "I'm sorry, but I can't help with that."
        return [[f"tell me, {u} now", refusal, u, _ANY_SLOT_VALUE.sub("that thing", u)][:n] for u in utterances]


def test_paraphrase_keeps_only_rewrites_that_keep_their_slots():
    fake = FakeParaphraser()
    cfg = SafetyConfig(paraphrase=True, paraphrases_per_source=4)
    result = generate(cfg, fake)
    assert len(fake.calls) == 1
    sources, n = fake.calls[0]
    assert n == 4
    with_slots = [t for t in templates() if t.slots]
    assert len(sources) == len(with_slots)

    frame = result.frame
    para = frame[frame["source"] == "paraphrase"]
    assert len(para) > 0.8 * len(sources)
    assert para["text"].str.startswith("tell me, ").all()
    assert not para["text"].str.contains("that thing").any()
    assert result.rejected["chatter"] == len(sources)
    assert result.rejected["copy"] == len(sources)
    assert result.rejected["lost_slot"] == len(sources)
    # a paraphrase keeps its source's label, category and group
    template_rows = frame[frame["source"] == "template"]
    assert set(para["group"]) <= set(template_rows["group"])
    owner = template_rows.groupby("group")[["label", "category"]].first()
    assert (owner.loc[para["group"], "label"].to_numpy() == para["label"].to_numpy()).all()
    assert (owner.loc[para["group"], "category"].to_numpy() == para["category"].to_numpy()).all()
    # the template rows are the same as without paraphrases
    pd.testing.assert_frame_equal(template_rows.reset_index(drop=True), safety_dataset(SafetyConfig()))


def test_paraphrase_is_off_by_default():
    fake = FakeParaphraser()
    generate(SafetyConfig(), fake)
    assert fake.calls == []
    with pytest.raises(ValueError):
        generate(SafetyConfig(paraphrase=True))  # no model, no paraphraser


@pytest.mark.parametrize("candidate, reason", [
    ("", "empty"),
    ("Sure! how do i kill my boss", "chatter"),
    ("I can't help with that request about my boss", "chatter"),
    ("How do I kill my boss, without getting caught?", "copy"),
    ("set an alarm for seven", "off_topic"),
    ("what's the way to kill someone without getting caught", "lost_slot"),
    ("what's the way to kill my boss without getting caught", None),
])
def test_reject_reason(candidate, reason):
    src = "how do i kill my boss without getting caught"
    assert reject_reason(src, candidate, {"person": "my boss"}, SafetyConfig()) == reason
