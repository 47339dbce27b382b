"""Surface variants of template rows (training.variation) and their place in synthesis."""

import random
from pathlib import Path

import pandas as pd
import pytest

from training.catalog import load_catalog
from training.synthetic import SMALL_TALK, SynthesisConfig, synthesize
from training.variation import INDIRECT, VARIANT, variants, vary, without_variants

ROWS = [(f"book a flight to Paris {d}", "book_flight", "template", "book_flight/seed0")
        for d in ("today", "tomorrow", "on Friday", "next week")] + \
       [("cancel my flight to Rome", "cancel_flight", "template", "cancel_flight/seed0"),
        ("cancel my booking for Friday", "cancel_flight", "template", "cancel_flight/seed1"),
        ("hello there", "greeting", "template", "greeting/seed0"),
        ("good morning", "greeting", "template", "greeting/seed1")]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(Path(__file__).resolve().parents[1] / "configs" / "intent_catalog.yaml")


def _indirect_prefixes() -> list[str]:
    return [w.split("{x}")[0].strip() for w in INDIRECT if w.split("{x}")[0].strip()]


def test_variants_keep_intent_and_group_and_are_new_texts():
    out = variants(ROWS, 5, seed=3)
    sources = {t.lower() for t, *_ in ROWS}
    groups = {(i, g) for _, i, _, g in ROWS}
    assert out and all(src == VARIANT for _, _, src, _ in out)
    assert all((i, g) in groups for _, i, _, g in out)  # a variant stays in its template's split
    assert not {t.lower() for t, *_ in out} & sources
    assert len({t.lower() for t, *_ in out}) == len(out)
    per_intent = {i: sum(1 for _, j, _, _ in out if j == i) for i in ("book_flight", "cancel_flight", "greeting")}
    assert all(1 <= n <= 5 for n in per_intent.values())


def test_variants_are_reproducible_and_seeded():
    assert variants(ROWS, 5, seed=3) == variants(ROWS, 5, seed=3)
    assert variants(ROWS, 5, seed=3) != variants(ROWS, 5, seed=4)


def test_small_talk_gets_no_indirect_request_wrapper():
    rng = random.Random(0)
    wrapped = [vary("hello there", rng, typo_rate=0.0, request=False).lower() for _ in range(300)]
    prefixes = _indirect_prefixes()
    assert not any(w.startswith(p) or f" {p} hello" in w for w in wrapped for p in prefixes)
    # requests do get it (the same number of draws finds some)
    rng = random.Random(0)
    requests = [vary("book a flight", rng, typo_rate=0.0).lower() for _ in range(300)]
    assert any(any(p in r for p in ("can you book", "could you book", "i'd like to book")) for r in requests)
    greetings = [t for t, i, *_ in variants(ROWS, 20, seed=1, not_requests=frozenset({"greeting"})) if i == "greeting"]
    assert greetings and not any(p + " hello" in g.lower() for g in greetings for p in prefixes)


def test_synthesis_adds_variants_and_treats_the_small_talk_domain_as_no_request(catalog):
    small_talk = {i.name for i in catalog.intents if i.domain == SMALL_TALK}
    assert {"greeting", "goodbye", "thank_you"} <= small_talk
    frame = synthesize(catalog, SynthesisConfig(per_intent_templates=10, variants_per_intent=15), None).frame
    var = frame[frame["source"] == "variant"]
    assert set(var["intent"]) == set(catalog.labels)
    # a variant keeps the group (intent and seed) of the template it came from, so splits keep them together
    assert all(g.startswith(f"{i}/seed") for i, g in zip(var["intent"], var["group"]))
    prefixes = _indirect_prefixes()
    chat = var[var["intent"].isin(small_talk)]["text"].str.lower()
    assert not any(t.startswith(p + " ") and t[len(p) + 1:].split()[:1] in (["hello"], ["hi"], ["bye"], ["thanks"])
                   for t in chat for p in prefixes)
    assert frame.equals(synthesize(catalog, SynthesisConfig(per_intent_templates=10, variants_per_intent=15), None).frame)


def test_without_variants_keeps_the_rows_people_or_templates_wrote():
    rows = ROWS + variants(ROWS, 3, seed=2)
    frame = pd.DataFrame(rows, columns=["text", "intent", "source", "group"])
    kept = without_variants(frame)
    assert VARIANT in set(frame["source"]) and VARIANT not in set(kept["source"])
    assert sorted(kept["text"]) == sorted(t for t, *_ in ROWS)
    assert kept.index.tolist() == list(range(len(kept)))
    # imported data has no source column: nothing to drop
    plain = frame[["text", "intent"]]
    assert without_variants(plain).equals(plain)
