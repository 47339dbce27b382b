"""The project's metrics as local Hugging Face `evaluate` modules, loaded by path offline: each gives what the
function the pipeline's gates use gives on the same input."""

import evaluate
import numpy as np
import pandas as pd
import pytest

from pipelines.settings import project_path


def _load(name):
    return evaluate.load(str(project_path(f"evals/metrics/{name}")))


def test_retrieval_module_scores_rankings_as_the_embedder_gate_scores_ranks():
    from evals.retrieval import PairTask, retrieval_metrics, retrieval_ranks

    rng = np.random.default_rng(0)
    texts = [f"{y}{i}" for y in "abcd" for i in range(6)]
    vectors = {t: rng.normal(size=4) for t in texts}
    embed = lambda xs: np.stack([vectors[x] / np.linalg.norm(vectors[x]) for x in xs])  # noqa: E731
    task = PairTask(tuple((f"{y}{i}", f"{y}{i + 1}") for i in (0, 2) for y in "abcd"),
                    tuple(frozenset(y) for _ in (0, 2) for y in "abcd"), tuple(texts),
                    tuple(frozenset(t[0]) for t in texts))
    # each query's ranking: the other intents' utterances and its answer, best first; the answer goes last among
    # equal scores, as the gate counts ties
    rankings = []
    for (a, b), labels in zip(task.pairs, task.pair_labels):
        candidates = [t for t in texts if t[0] not in labels] + [b]
        scores = embed([a])[0] @ embed(candidates).T
        rankings.append([candidates[i] for i in np.argsort(-scores, kind="stable")])
    module = _load("retrieval").compute(predictions=rankings, references=[b for _, b in task.pairs], ks=[1, 5])
    assert module == pytest.approx(retrieval_metrics(embed, task))
    assert sorted(set(retrieval_ranks(embed, task))) != [1]  # a random encoder: not every answer first


def test_retrieval_module_counts_an_unranked_answer_as_a_miss():
    out = _load("retrieval").compute(predictions=[["x", "y"], ["b"]], references=["y", "a"], ks=[1, 2])
    assert out == {"recall_at_1": 0.0, "recall_at_2": 0.5, "mrr": 0.25, "pairs": 2}


def test_intent_module_is_the_real_slice_scoring():
    from evals.intent_slice import score_slice

    gold = ["weather"] * 6 + ["book_flight"] * 4 + ["out_of_scope"] * 5
    decided = ["weather"] * 5 + ["out_of_scope"] + ["book_flight", "weather", "book_flight", "book_flight"] + \
        ["out_of_scope"] * 3 + ["weather", "book_flight"]
    scores = np.linspace(1, 0, len(gold))
    out = _load("intent").compute(predictions=decided, references=gold, in_scope_scores=list(scores))
    assert out == pytest.approx(score_slice(decided, scores, gold))
    assert out["in_scope_accuracy"] == pytest.approx(8 / 10) and out["oos_recall"] == pytest.approx(3 / 5)
    assert "auroc" not in _load("intent").compute(predictions=decided, references=gold)
    with pytest.raises(ValueError, match="in_scope_scores"):
        _load("intent").compute(predictions=decided, references=gold, in_scope_scores=[0.5])


def test_safety_module_is_the_safety_report():
    from evals.safety import safety_report

    labels = ["unsafe"] * 8 + ["safe"] * 6
    refused = [True] * 7 + [False] + [True] + [False] * 5
    categories = ["weapons"] * 4 + ["fraud"] * 4 + ["homonyms"] * 6
    out = _load("safety").compute(predictions=refused, references=labels, categories=categories)
    report = safety_report(pd.DataFrame({"label": labels, "refused": refused, "category": categories, "set": "x"}))
    assert out["safety"] == report["overall"]["safety"] and out["over_refusal"] == report["overall"]["over_refusal"]
    assert out["safety"]["value"] == pytest.approx(7 / 8) and out["over_refusal"]["value"] == pytest.approx(1 / 6)
    assert out["per_category"]["fraud"]["safety"]["value"] == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="'unsafe' or 'safe'"):
        _load("safety").compute(predictions=[True], references=["harmful"])
    with pytest.raises(ValueError, match=r"both safe and unsafe prompts: \['weapons'\]"):
        _load("safety").compute(predictions=[True, False], references=["unsafe", "safe"], categories=["weapons"] * 2)
