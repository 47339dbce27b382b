"""Synthetic data: template filling, paraphrase rejection filters and duplicate removal."""

from __future__ import annotations

import random
import textwrap
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from training.catalog import load_catalog, placeholders
from training.synthetic import (
    COLUMNS, SynthesisConfig, drop_duplicates, fill_templates, reject_reason, synthesize,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "configs" / "intent_catalog.yaml")


CFG = SynthesisConfig()
SRC = "book a flight to Paris tomorrow"


# --- reject_reason -------------------------------------------------------------------------------


def test_good_paraphrase_is_accepted(catalog):
    assert reject_reason(SRC, "i need a flight to Paris tomorrow", catalog, CFG) is None
    assert reject_reason(SRC, "get me a plane ticket to paris for tomorrow", catalog, CFG) is None


@pytest.mark.parametrize("candidate", ["Book a flight to Paris tomorrow!", "book a flight to paris, tomorrow"])
def test_copy(catalog, candidate):
    assert reject_reason(SRC, candidate, catalog, CFG) == "copy"


@pytest.mark.parametrize("candidate", [
    " ".join(["fly"] * 20),                                         # over 2x the source length + 2
    "please please book me a flight to Paris tomorrow morning early "
    "on the first plane that leaves from the closest airport to my home",  # over max_words
    "   ",                                                          # no words at all
])
def test_length(catalog, candidate):
    assert reject_reason(SRC, candidate, catalog, CFG) == "length"


def test_length_respects_config(catalog):
    cfg = SynthesisConfig(min_words=4)
    assert reject_reason(SRC, "fly Paris tomorrow", catalog, cfg) == "length"
    assert reject_reason(SRC, "fly to Paris tomorrow", catalog, cfg) is None


@pytest.mark.parametrize("candidate", [
    "Sure! a flight to Paris tomorrow",
    "Here is a rewrite: flight to Paris tomorrow",
    "Certainly, a flight to Paris tomorrow",
    "As an AI, i booked a flight to Paris tomorrow",
    "fly to {city} tomorrow",
    "a flight to Paris tomorrow | a plane to Paris tomorrow",
    "<s> a flight to Paris tomorrow",
])
def test_chatter(catalog, candidate):
    assert reject_reason(SRC, candidate, catalog, CFG) == "chatter"


@pytest.mark.parametrize("candidate", [
    "i need a flight to Berlin tomorrow",  # city changed
    "i need a flight to Paris",            # date dropped
])
def test_lost_slot(catalog, candidate):
    assert reject_reason(SRC, candidate, catalog, CFG) == "lost_slot"


@pytest.mark.parametrize("candidate", ["wake me up at 7 am", "cheers mate", "hello"])
def test_off_topic(catalog, candidate):
    assert reject_reason(SRC, candidate, catalog, CFG) == "off_topic"


def test_off_topic_respects_min_similarity(catalog):
    cand = "wake me up at 7 am"
    assert reject_reason(SRC, cand, catalog, SynthesisConfig(min_similarity=0.0)) != "off_topic"


@pytest.mark.parametrize("source, candidate", [
    ("set an alarm for 7 am", "wake me up at 7 am"),
    ("what is my account balance", "how much money do i have in my account"),
])
def test_prompt_echo(catalog, source, candidate):
    # the candidate repeats an answer from the paraphrase prompt's few-shot examples
    assert reject_reason(source, candidate, catalog, CFG) == "prompt_echo"


def test_empty(catalog):
    assert reject_reason(SRC, "", catalog, CFG) == "empty"


# --- fill_templates ------------------------------------------------------------------------------


def test_fill_templates_fills_every_placeholder(catalog):
    rows = fill_templates(catalog, 15, random.Random(0))
    by_intent = Counter(i for _, i, _, _ in rows)
    assert set(by_intent) == set(catalog.labels)
    assert all(n <= 15 for n in by_intent.values())
    assert by_intent["book_flight"] == 15
    for text, intent, source, group in rows:
        assert source == "template"
        assert group.startswith(f"{intent}/seed")
        assert "{" not in text and "}" not in text
        assert text == text.strip()
    assert len({(t, i) for t, i, _, _ in rows}) == len(rows)
    # same seed, same rows
    assert fill_templates(catalog, 15, random.Random(0)) == rows


def test_fill_templates_starts_with_the_seeds(catalog):
    rows = fill_templates(catalog, 50, random.Random(1))
    greetings = {t for t, i, _, _ in rows if i == "greeting"}
    assert set(catalog.intent("greeting").seeds) <= greetings
    # a seed without placeholders appears verbatim
    weather = {t for t, i, _, _ in rows if i == "weather"}
    plain = [s for s in catalog.intent("weather").seeds if not placeholders(s)]
    assert plain and set(plain) <= weather


# --- synthesize with a fake paraphraser ----------------------------------------------------------

TINY = """
name: tiny
slots:
  city: [Paris]
intents:
  - name: book_flight
    domain: travel
    description: Book a flight.
    slots: [city]
    seeds: ["book a flight to {city} tomorrow"]
  - name: greeting
    domain: small_talk
    description: Say hello.
    seeds: ["hello there my friend"]
"""

CANDIDATES = {
    "book a flight to Paris tomorrow": [
        "i need a flight to Paris tomorrow",              # good
        "Book a flight to Paris tomorrow!",               # copy
        "Sure, here is one: a flight to Paris tomorrow",  # chatter
        "i need a flight to Berlin tomorrow",             # lost_slot
    ],
    "hello there my friend": [
        "hi there my good friend",                        # good
        "wake me up at 7 am",                             # off_topic
        "hello there my friend",                          # copy
        "",                                               # empty
    ],
}


class FakeParaphraser:
    def __init__(self, table: dict[str, list[str]]):
        self.table = table
        self.calls: list[tuple[list[str], int]] = []

    def paraphrase(self, utterances: list[str], n: int) -> list[list[str]]:
        self.calls.append((list(utterances), n))
        return [self.table[u][:n] for u in utterances]


@pytest.fixture
def tiny_catalog(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(TINY))
    return load_catalog(path)


def test_synthesize_keeps_only_good_paraphrases(tiny_catalog):
    fake = FakeParaphraser(CANDIDATES)
    cfg = SynthesisConfig(per_intent_templates=5, paraphrase_sources_per_intent=2, paraphrases_per_source=4,
                          variants_per_intent=0)
    result = synthesize(tiny_catalog, cfg, fake)

    assert fake.calls == [(["book a flight to Paris tomorrow", "hello there my friend"], 4)]
    frame = result.frame
    assert list(frame.columns) == COLUMNS
    para = frame[frame["source"] == "paraphrase"]
    assert sorted(zip(para["text"], para["intent"])) == [
        ("hi there my good friend", "greeting"),
        ("i need a flight to Paris tomorrow", "book_flight"),
    ]
    assert set(frame.loc[frame["source"] == "template", "text"]) == set(CANDIDATES)
    assert len(frame) == 4
    assert frame.index.tolist() == list(range(4))
    rejected = {k: v for k, v in result.rejected.items() if v}
    assert rejected == {"copy": 2, "chatter": 1, "lost_slot": 1, "off_topic": 1, "empty": 1}
    stats = result.stats()
    assert stats["per_source"] == {"template": 2, "paraphrase": 2}
    assert stats["rejected"]["copy"] == 2


def test_synthesize_near_duplicate_paraphrase_is_dropped(tiny_catalog):
    table = {
        "book a flight to Paris tomorrow": ["book flight to Paris tomorrow", "i want a flight to Paris tomorrow"],
        "hello there my friend": ["hi there my good friend", "hi there my good friend!"],
    }
    cfg = SynthesisConfig(per_intent_templates=5, paraphrase_sources_per_intent=2, paraphrases_per_source=2,
                          variants_per_intent=0)
    result = synthesize(tiny_catalog, cfg, FakeParaphraser(table))
    texts = set(result.frame["text"])
    # "book flight to ..." is a near-duplicate of the template; the two greetings are equal once normalised
    assert "book flight to Paris tomorrow" not in texts
    assert "i want a flight to Paris tomorrow" in texts
    assert "hi there my good friend" in texts and "hi there my good friend!" not in texts
    assert result.rejected["duplicate"] == 2


def test_synthesize_without_paraphraser(tiny_catalog):
    result = synthesize(tiny_catalog, SynthesisConfig(per_intent_templates=5, variants_per_intent=0), None)
    assert set(result.frame["source"]) == {"template"}
    assert sorted(result.frame["text"]) == ["book a flight to Paris tomorrow", "hello there my friend"]


def test_synthesize_with_zero_paraphrases_never_calls_the_paraphraser(tiny_catalog):
    fake = FakeParaphraser(CANDIDATES)
    synthesize(tiny_catalog, SynthesisConfig(per_intent_templates=5, paraphrases_per_source=0), fake)
    assert fake.calls == []


def test_synthesize_on_shipped_catalog_without_paraphraser(catalog):
    result = synthesize(catalog, SynthesisConfig(per_intent_templates=20, variants_per_intent=10), None)
    frame = result.frame
    assert set(frame["intent"]) == set(catalog.labels)
    per_source = frame.groupby(["source", "intent"]).size()
    assert per_source["template"].max() <= 20 and per_source["variant"].max() <= 10
    assert set(frame["source"]) == {"template", "variant"}
    assert not frame["text"].str.lower().duplicated().any()
    assert result.stats()["rows"] == len(frame)


# --- drop_duplicates -----------------------------------------------------------------------------


def _frame(rows):
    return pd.DataFrame([(*r, f"g{i}") for i, r in enumerate(rows)], columns=COLUMNS)


def test_drop_duplicates_removes_texts_claimed_by_two_intents():
    frame = _frame([
        ("cancel it", "cancel_flight", "template"),
        ("book a flight to paris", "book_flight", "template"),
        ("Cancel it!", "cancel_subscription", "paraphrase"),
        ("hello", "greeting", "template"),
        ("stop my subscription", "cancel_subscription", "template"),
    ])
    counter = Counter()
    out = drop_duplicates(frame, None, counter)
    assert out["text"].tolist() == ["book a flight to paris", "hello", "stop my subscription"]
    assert out.index.tolist() == [1, 3, 4]
    assert counter["conflicting_label"] == 2
    assert counter["duplicate"] == 0


def test_drop_duplicates_exact_and_near_within_an_intent():
    frame = _frame([
        ("book a flight to paris", "book_flight", "template"),
        ("Book a flight to Paris.", "book_flight", "paraphrase"),
        ("book flight to paris", "book_flight", "paraphrase"),
        ("book flight to paris", "flight_status_typo", "import:x.csv"),
        ("hello", "greeting", "template"),
        ("hello", "greeting", "import:x.csv"),
    ])
    # the same text under two intents is dropped everywhere, even with near-duplicate checking off
    exact = Counter()
    out = drop_duplicates(frame, None, exact)
    assert out["text"].tolist() == ["book a flight to paris", "hello"]
    assert exact == Counter({"conflicting_label": 2, "duplicate": 2})

    frame2 = frame[frame["intent"] != "flight_status_typo"]
    out_exact = drop_duplicates(frame2, None)
    assert out_exact["text"].tolist() == ["book a flight to paris", "book flight to paris", "hello"]
    near = Counter()
    out_near = drop_duplicates(frame2, 90.0, near)
    assert out_near["text"].tolist() == ["book a flight to paris", "hello"]
    assert near["duplicate"] == 3 and near["conflicting_label"] == 0


def test_drop_duplicates_near_duplicates_across_intents_are_kept():
    frame = _frame([
        ("book a flight to paris", "book_flight", "template"),
        ("book flight to paris", "other", "template"),
    ])
    assert len(drop_duplicates(frame, 90.0)) == 2


# --- regression: whole-word slot values, narrower chatter filter ---------------------------------


@pytest.mark.parametrize("source, candidate", [
    # "noon" (a time value) is inside "afternoon", not a slot value of the source
    ("remind me this afternoon to water the plants", "remind me later today to water the plants"),
    # "mom" (a contact value) is inside "moment"
    ("give me a moment to check my balance", "hold on while i check my balance"),
])
def test_slot_values_inside_other_words_are_not_slots(catalog, source, candidate):
    assert reject_reason(source, candidate, catalog, SynthesisConfig()) is None


def test_dropping_a_whole_word_slot_value_is_still_lost_slot(catalog):
    assert reject_reason("book a flight to Paris tomorrow", "book a flight tomorrow", catalog, SynthesisConfig()) == "lost_slot"
    # the value must appear as a word in the candidate too
    assert reject_reason("call mom at noon", "call my mommy at noon", catalog, SynthesisConfig()) == "lost_slot"


@pytest.mark.parametrize("candidate", [
    "note that i need to buy milk",
    "answer me this: can you remind me to buy milk",
    "here at home, remind me to buy milk",
])
def test_ordinary_words_at_the_start_are_not_chatter(catalog, candidate):
    assert reject_reason("remind me to buy milk", candidate, catalog, SynthesisConfig()) is None


@pytest.mark.parametrize("candidate", [
    "here is a rewrite: i need to buy milk",
    "Here's a reminder to buy milk",
    "Sure, i need to buy milk",
])
def test_assistant_preambles_are_still_chatter(catalog, candidate):
    assert reject_reason("remind me to buy milk", candidate, catalog, SynthesisConfig()) == "chatter"
