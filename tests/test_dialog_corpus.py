"""Dialog corpus: user turns from intent data, teacher replies via the chat template, JSONL splits."""

import pandas as pd

from training.dialog_corpus import (
    DialogCorpusConfig,
    build_corpus,
    read_corpus,
    sample_user_turns,
    teacher_replies,
    write_corpus,
)


def _frame():
    rows = [(f"book a flight to city {i}", "book_flight") for i in range(10)]
    rows += [(f"what's the weather on day {i}", "weather") for i in range(10)]
    return pd.DataFrame(rows, columns=["text", "intent"])


def test_turns_are_stratified_and_deterministic():
    a = sample_user_turns(_frame(), per_intent=4, seed=1)
    b = sample_user_turns(_frame(), per_intent=4, seed=1)
    assert a == b and len(a) == 8
    assert {t["intent"] for t in a} == {"book_flight", "weather"}


def test_teacher_writes_replies_and_corpus_round_trips(tmp_path, tiny_llm):
    cfg = DialogCorpusConfig(per_intent=4, max_new_tokens=5, batch_size=3)
    turns = sample_user_turns(_frame(), cfg.per_intent, cfg.seed)
    replies = teacher_replies(tiny_llm, [t["user"] for t in turns], cfg)
    assert len(replies) == len(turns)
    corpus = build_corpus(turns, ["ok " + r for r in replies], cfg)
    assert len(corpus["heldout"]) == 2 and len(corpus["train"]) == 6  # 25% of 4 per intent
    for rec in corpus["train"] + corpus["heldout"]:
        assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant"]
    write_corpus(corpus, tmp_path / "dialogs", {"n": 8})
    assert read_corpus(tmp_path / "dialogs", "train") == corpus["train"]


def test_empty_replies_are_dropped():
    turns = [{"intent": "weather", "user": "rain?"}, {"intent": "weather", "user": "sun?"}]
    corpus = build_corpus(turns, ["", "sunny"], DialogCorpusConfig())
    assert sum(len(v) for v in corpus.values()) == 1


def test_heldout_dialogs_come_from_templates_the_training_dialogs_never_saw():
    rows = [(f"book a flight to city {i}", "book_flight", f"book_flight/seed{i % 4}") for i in range(24)]
    frame = pd.DataFrame(rows, columns=["text", "intent", "group"])
    turns = sample_user_turns(frame, per_intent=24, seed=3)
    corpus = build_corpus(turns, ["sure"] * len(turns), DialogCorpusConfig(heldout_fraction=0.25))
    held = {r["group"] for r in corpus["heldout"]}
    train = {r["group"] for r in corpus["train"]}
    assert held and train and not held & train
    assert len(corpus["heldout"]) == 6  # one whole template of four
