"""Duplicate detection, leak-free train/validation/test splits and atomic dataset writes."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pandas as pd
import pytest
from rapidfuzz import fuzz

from training.catalog import load_catalog
from training.dedup import NEAR_DUPLICATE_RATIO, dedupe, near_duplicate_groups, normalize
from training.fileio import atomic_dir
from training.intent_dataset import (
    SPLITS, SplitConfig, cross_split_duplicates, load_labels, load_split, split_frame, write_dataset,
)
from training.synthetic import SynthesisConfig, synthesize

ROOT = Path(__file__).resolve().parents[1]


# --- normalize / dedupe --------------------------------------------------------------------------


def test_normalize():
    assert normalize("  Book, a FLIGHT!!  to   Paris? ") == "book a flight to paris"
    assert normalize("what's\tthe\nweather") == "what s the weather"
    assert normalize("ＨＥＬＬＯ") == "hello"  # NFKC folds full-width letters
    assert normalize("?!...") == ""


def test_dedupe_drops_exact_duplicates_up_to_case_and_punctuation():
    texts = ["Book a flight to Paris!", "book a flight to paris", "BOOK A FLIGHT TO PARIS?"]
    kept, dropped = dedupe(texts)
    assert kept == [0]
    assert dropped == [1, 2]


def test_dedupe_drops_near_duplicates_and_keeps_distinct_ones():
    texts = [
        "book a flight to paris",
        "what's the weather in tokyo",
        "book flight to paris",          # near duplicate of 0 (ratio ~95)
        "cancel my subscription",
        "book a flight to paris now",    # near duplicate of 0 (ratio ~92)
        "book a hotel in rome",
    ]
    kept, dropped = dedupe(texts)
    assert kept == [0, 1, 3, 5]
    assert dropped == [2, 4]


def test_dedupe_please_variant_with_a_looser_threshold():
    a, b = "book a flight to paris", "book a flight to paris please"
    # rapidfuzz ratio of these two is ~86: caught at 85, kept apart at the default 90.
    assert 85 <= fuzz.ratio(a, b) < NEAR_DUPLICATE_RATIO
    assert dedupe([a, b], threshold=85) == ([0], [1])
    assert dedupe([a, "what's the weather like in tokyo"], threshold=85) == ([0, 1], [])


def test_dedupe_drops_empty_texts_and_keeps_order():
    kept, dropped = dedupe(["", "hello", "???", "goodbye"])
    assert kept == [1, 3]
    assert dropped == [0, 2]
    assert dedupe([]) == ([], [])


def test_dedupe_without_threshold_drops_exact_duplicates_only():
    kept, dropped = dedupe(["book flight to paris", "book a flight to paris", "Book flight to Paris."], None)
    assert kept == [0, 1]
    assert dropped == [2]


def test_near_duplicate_groups_are_transitive():
    texts = [
        "set an alarm for 7 am",       # 0
        "what time is it",             # 1
        "set an alarm for 7 a",        # 2 ~ 0
        "set an alarm for 7",          # 3 ~ 2 and ~ 0
        "Set an alarm for 7 AM!",      # 4 exact of 0 after normalisation
        "set alarm for 8 pm tomorrow", # 5 distinct
        "",                            # 6
        "??",                          # 7 also empty after normalisation
    ]
    gid = near_duplicate_groups(texts).tolist()
    assert gid[0] == gid[2] == gid[3] == gid[4] == 0
    assert gid[1] == 1 and gid[5] == 5
    assert gid[6] == gid[7] == 6
    assert near_duplicate_groups([]).tolist() == []


def test_near_duplicate_groups_chain():
    # a ~ b and b ~ c, but a and c are not similar enough on their own
    a, b, c = "abcdefghijklmnopqrst", "abcdefghijklmnopqXYZ", "abcdefghijklmnXYZ123"
    assert fuzz.ratio(a, b) >= NEAR_DUPLICATE_RATIO - 5
    gid = near_duplicate_groups([a, b, c], threshold=80).tolist()
    assert fuzz.ratio(a, c) < 80 <= min(fuzz.ratio(a, b), fuzz.ratio(b, c))
    assert gid == [0, 0, 0]
    assert near_duplicate_groups([a, b, c], threshold=99).tolist() == [0, 1, 2]


# --- splits --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_frame() -> pd.DataFrame:
    catalog = load_catalog(ROOT / "configs" / "intent_catalog.yaml")
    return synthesize(catalog, SynthesisConfig(per_intent_templates=30), paraphraser=None).frame


def test_split_frame_on_synthetic_data(synthetic_frame):
    cfg = SplitConfig(validation_fraction=0.1, test_fraction=0.15, seed=7)
    splits = split_frame(synthetic_frame, cfg)
    assert set(splits) == set(SPLITS)
    sizes = {s: len(df) for s, df in splits.items()}
    assert all(n > 0 for n in sizes.values())
    assert sum(sizes.values()) == len(synthetic_frame)
    intents = set(synthetic_frame["intent"])
    assert set(splits["train"]["intent"]) == intents
    n = len(synthetic_frame)
    assert sizes["test"] / n == pytest.approx(0.15, abs=0.05)
    assert sizes["validation"] / n == pytest.approx(0.10, abs=0.05)
    assert sizes["train"] / n == pytest.approx(0.75, abs=0.08)
    # no row lost or invented
    together = pd.concat(splits.values())
    assert sorted(together["text"]) == sorted(synthetic_frame["text"])
    assert cross_split_duplicates(splits) == []


def test_split_frame_is_reproducible_and_seed_dependent(synthetic_frame):
    a = split_frame(synthetic_frame, SplitConfig(seed=7))
    b = split_frame(synthetic_frame, SplitConfig(seed=7))
    c = split_frame(synthetic_frame, SplitConfig(seed=8))
    for s in SPLITS:
        pd.testing.assert_frame_equal(a[s], b[s])
    assert set(a["test"]["text"]) != set(c["test"]["text"])


def _random_text(rng: random.Random) -> str:
    return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(6)) for _ in range(3))


def _planted_frame() -> tuple[pd.DataFrame, list[set[str]]]:
    """Two intents, each with random distinct texts plus planted near-duplicate groups."""
    rng = random.Random(3)
    rows, groups = [], []
    for intent in ("alpha", "beta"):
        for _ in range(30):
            rows.append((_random_text(rng), intent, "template"))
        for _ in range(4):
            base = _random_text(rng)
            members = {base, base + "x", base[:-1] + "q", base.upper() + "!"}
            groups.append(members)
            rows += [(t, intent, "template") for t in members]
    frame = pd.DataFrame(rows, columns=["text", "intent", "source"]).sample(frac=1, random_state=0)
    return frame.reset_index(drop=True), groups


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_split_frame_keeps_near_duplicate_groups_together(seed):
    frame, groups = _planted_frame()
    splits = split_frame(frame, SplitConfig(seed=seed))
    where = {t: s for s, df in splits.items() for t in df["text"]}
    assert len(where) == len(frame)
    for members in groups:
        assert len({where[t] for t in members}) == 1, members
    assert all(len(df) > 0 for df in splits.values())
    assert cross_split_duplicates(splits) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_frame_keeps_cross_intent_near_duplicates_together(seed):
    frame, _ = _planted_frame()
    rng = random.Random(seed)
    leaks = []
    for _ in range(5):
        base = _random_text(rng)
        leaks.append((base, base + "z"))
    extra = [(a, "alpha", "template") for a, _ in leaks] + [(b, "beta", "import:x.csv") for _, b in leaks]
    frame = pd.concat([frame, pd.DataFrame(extra, columns=frame.columns)], ignore_index=True)
    splits = split_frame(frame, SplitConfig(seed=seed))
    where = {t: s for s, df in splits.items() for t in df["text"]}
    for a, b in leaks:
        assert where[a] == where[b]
    assert cross_split_duplicates(splits) == []


def test_split_frame_small_intent_goes_to_train():
    frame = pd.DataFrame({
        "text": ["hello", "good morning", "what's the weather in paris", "will it rain tomorrow",
                 "weather forecast for tokyo", "do i need an umbrella"],
        "intent": ["greeting", "greeting", "weather", "weather", "weather", "weather"],
        "source": "template",
    })
    splits = split_frame(frame, SplitConfig())
    # fewer than three groups: nothing can be held out for that intent
    assert set(splits["train"].loc[splits["train"]["intent"] == "greeting", "text"]) == {"hello", "good morning"}
    assert "greeting" not in set(splits["test"]["intent"]) | set(splits["validation"]["intent"])


def test_cross_split_duplicates_detects_a_planted_leak():
    splits = {
        "train": pd.DataFrame({"text": ["book a flight to paris", "hello there"], "intent": ["b", "g"]}),
        "validation": pd.DataFrame({"text": ["what's the weather", "Book a flight to Paris!"], "intent": ["w", "b"]}),
        "test": pd.DataFrame({"text": ["book flight to paris", "cancel my plan"], "intent": ["b", "c"]}),
    }
    found = cross_split_duplicates(splits)
    assert ("train", "book a flight to paris", "validation", "Book a flight to Paris!") in found
    assert ("train", "book a flight to paris", "test", "book flight to paris") in found
    assert ("validation", "Book a flight to Paris!", "test", "book flight to paris") in found
    assert len(found) == 3
    clean = {k: v[~v["text"].str.lower().str.contains("paris")] for k, v in splits.items()}
    assert cross_split_duplicates(clean) == []


def test_cross_split_duplicates_with_an_empty_split():
    splits = {
        "train": pd.DataFrame({"text": ["hello"], "intent": ["g"]}),
        "validation": pd.DataFrame({"text": [], "intent": []}),
        "test": pd.DataFrame({"text": ["hello!"], "intent": ["g"]}),
    }
    assert cross_split_duplicates(splits) == [("train", "hello", "test", "hello!")]


# --- writing -------------------------------------------------------------------------------------


def _tiny_splits() -> dict[str, pd.DataFrame]:
    return {
        "train": pd.DataFrame({"text": ["hello", "book a flight"], "intent": ["greeting", "book_flight"],
                               "source": ["template", "paraphrase"], "extra": [1, 2]}),
        "validation": pd.DataFrame({"text": ["hi"], "intent": ["greeting"], "source": ["template"]}),
        "test": pd.DataFrame({"text": ["fly me to rome"], "intent": ["book_flight"], "source": ["import:x.csv"]}),
    }


def test_write_dataset_round_trip(tmp_path):
    out = tmp_path / "data" / "intents"
    splits = _tiny_splits()
    labels = ["book_flight", "greeting"]
    assert write_dataset(splits, labels, out, {"rows": 4}) == out
    for name, df in splits.items():
        back = load_split(out, name)
        assert list(back.columns) == ["text", "intent", "source"]
        pd.testing.assert_frame_equal(back, df[["text", "intent", "source"]].reset_index(drop=True))
    assert load_labels(out) == labels
    assert (out / "dataset_card.json").exists()
    # rewriting replaces the folder and leaves no scratch folders behind
    write_dataset({"train": splits["train"]}, ["greeting"], out, {"rows": 2})
    assert sorted(p.name for p in out.iterdir()) == ["dataset_card.json", "labels.json", "train.parquet"]
    assert load_labels(out) == ["greeting"]
    assert [p.name for p in out.parent.iterdir()] == ["intents"]


def test_atomic_dir_failure_keeps_the_previous_folder(tmp_path):
    target = tmp_path / "intents"
    with atomic_dir(target) as tmp:
        (tmp / "train.parquet").write_text("old")
    assert (target / "train.parquet").read_text() == "old"

    with pytest.raises(RuntimeError, match="boom"):
        with atomic_dir(target) as tmp:
            (tmp / "train.parquet").write_text("new")
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert (target / "train.parquet").read_text() == "old"
    assert sorted(p.name for p in target.iterdir()) == ["train.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["intents"]


def test_write_dataset_failure_keeps_the_previous_folder(tmp_path):
    out = tmp_path / "intents"
    write_dataset(_tiny_splits(), ["book_flight", "greeting"], out, {})
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = {"train": pd.DataFrame({"text": ["x"], "intent": ["greeting"]})}  # no 'source' column
    with pytest.raises(KeyError):
        write_dataset(broken, ["greeting"], out, {})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["intents"]


# --- regression: a big near-duplicate group must not push an intent out of train -----------------


def _frame_with_a_big_near_duplicate_group() -> pd.DataFrame:
    rows = [(f"set an alarm for seven oclock number {i}", "a") for i in range(17)]  # one chained group
    rows += [(t, "a") for t in ("wake me up before sunrise", "i need to be up early for my flight",
                                "ring loudly at dawn on weekdays")]
    rows += [(t, "b") for t in ("what's the weather in paris", "will it rain tomorrow", "do i need an umbrella",
                                "how hot is it outside", "forecast for the weekend in tokyo", "is it snowing in oslo")]
    rows += [(t, "c") for t in ("book a flight to rome", "i want a plane ticket to lima", "cancel my trip to boston",
                                "change my seat on the next flight", "which gate does my flight leave from",
                                "add a checked bag to my booking")]
    return pd.DataFrame(rows, columns=["text", "intent"]).assign(source="template")


def test_big_near_duplicate_group_is_one_group_of_four():
    frame = _frame_with_a_big_near_duplicate_group()
    gid = near_duplicate_groups(frame["text"].tolist())
    a = frame["intent"] == "a"
    assert len(set(gid[a.to_numpy()][:17])) == 1  # the 17 numbered texts chain into one group
    assert len(set(gid[a.to_numpy()])) == 4       # plus three distinct texts
    assert len(set(gid)) == len(frame) - 16       # nothing else groups


@pytest.mark.parametrize("seed", range(50))
def test_split_frame_big_group_never_empties_train_or_exceeds_quota(seed):
    frame = _frame_with_a_big_near_duplicate_group()
    cfg = SplitConfig(seed=seed)
    splits = split_frame(frame, cfg)
    assert sum(len(df) for df in splits.values()) == len(frame)
    size = frame["intent"].value_counts()
    for intent, n in size.items():
        assert (splits["train"]["intent"] == intent).sum() > 0, (seed, intent)
        for split, fraction in (("test", cfg.test_fraction), ("validation", cfg.validation_fraction)):
            held = int((splits[split]["intent"] == intent).sum())
            assert held <= max(2 * fraction * n, 1), (seed, intent, split, held)  # a first group may take 2x
    # the big group stays in one split, and that can only be train
    where = {t: s for s, df in splits.items() for t in df["text"]}
    assert {where[f"set an alarm for seven oclock number {i}"] for i in range(17)} == {"train"}
    assert cross_split_duplicates(splits) == []


# --- held out means held out: template groups ----------------------------------------------------


def test_template_siblings_and_their_paraphrases_stay_in_one_split():
    from training.catalog import load_catalog
    from training.intent_dataset import template_leaks
    from training.synthetic import SynthesisConfig, synthesize

    catalog = load_catalog(Path(__file__).resolve().parents[1] / "configs" / "intent_catalog.yaml")
    frame = synthesize(catalog, SynthesisConfig(per_intent_templates=60)).frame
    values = [v for vs in catalog.slots.values() for v in vs]
    affixes = catalog.prefixes + catalog.suffixes
    splits = split_frame(frame, SplitConfig())
    where = {g: {s for s, df in splits.items() if (df["group"] == g).any()} for g in frame["group"].unique()}
    assert all(len(s) == 1 for s in where.values()), "a template's rows landed in two splits"
    assert all(len(splits[s]) for s in SPLITS)
    assert template_leaks(splits, values, affixes) == []
    # without the generator's groups (the old splitter) siblings leak: the check sees what character
    # similarity alone misses
    ungrouped = split_frame(frame.drop(columns=["group"]), SplitConfig())
    assert cross_split_duplicates(ungrouped) == []
    assert len(template_leaks(ungrouped, values, affixes)) > 50


def test_imported_rows_join_the_split_of_their_template_siblings():
    # imported rows carry no template group; "<template text> for me" is the template's sibling and must not
    # be held out against it (the bug behind a failed leakage check when CLINC150 was merged)
    from training.catalog import load_catalog
    from training.intent_dataset import sibling_pairs, template_leaks
    from training.synthetic import SynthesisConfig, synthesize

    catalog = load_catalog(Path(__file__).resolve().parents[1] / "configs" / "intent_catalog.yaml")
    synthetic = synthesize(catalog, SynthesisConfig(per_intent_templates=60)).frame
    imported = synthetic.sample(300, random_state=0).assign(
        text=lambda df: "can you " + df["text"].str.rstrip("?") + " for me", source="imported",
        group=[f"imported/{i}" for i in range(300)])
    frame = pd.concat([synthetic, imported], ignore_index=True)
    values = [v for vs in catalog.slots.values() for v in vs]
    affixes = catalog.prefixes + catalog.suffixes
    assert len(template_leaks(split_frame(frame, SplitConfig()), values, affixes)) > 0
    links = sibling_pairs(frame["text"].tolist(), values, affixes)
    assert all(a < b for a, b in links) and len(links) > 300
    splits = split_frame(frame, SplitConfig(), links)
    assert template_leaks(splits, values, affixes) == []
    assert sum(len(df) for df in splits.values()) == len(frame)
    assert all((df["source"] == "imported").any() for df in splits.values())
