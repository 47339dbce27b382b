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
