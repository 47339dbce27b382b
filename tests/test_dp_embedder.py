"""DP-SGD embedder fine-tune (Opacus) on a tiny BERT, the privacy budget ledger and retrieval metrics."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from evals.retrieval import paraphrase_task, retrieval_metrics, retrieval_ranks
from training.dp_embedder import EmbedderTrainConfig, PrivacyConfigError, load_embedder, train_embedder

pytestmark = pytest.mark.usefixtures("one_torch_thread")

INTENTS = {
    "weather": ["will it rain in {c}", "weather in {c} today", "is it cold in {c}", "forecast for {c}"],
    "book_flight": ["book a flight to {c}", "fly me to {c}", "tickets to {c} please", "i need a plane to {c}"],
    "greeting": ["hello there {c}", "hi {c}", "good morning {c}", "hey {c} how are you"],
    "reset_password": ["reset my password {c}", "forgot my password {c}", "cannot log in {c}", "new password {c}"],
}
CITIES = ["oslo", "lima", "rome", "kyiv", "doha", "bern", "riga", "cairo", "quito", "accra", "perth", "dubai"]


def _data():
    texts, labels = [], []
    for intent, templates in INTENTS.items():
        for t in templates:
            for c in CITIES:
                texts.append(t.format(c=c))
                labels.append(intent)
    return texts, labels



def test_dp_fine_tune_spends_at_most_its_epsilon_moves_every_weight_and_saves_a_sentence_transformer(tiny_encoder, tmp_path):
    texts, labels = _data()
    cfg = EmbedderTrainConfig(epochs=2, batch_size=32, learning_rate=5e-3, target_epsilon=8.0, target_delta=1e-5)
    out = train_embedder(tiny_encoder, texts, labels, tmp_path / "dp", cfg, progress=False)
    assert 0 < out.epsilon_spent <= 8.0 * 1.01
    assert out.noise_multiplier > 0 and out.delta == 1e-5 and out.steps > 0

    before = load_file(tiny_encoder / "model.safetensors")
    after = load_file(next((tmp_path / "dp").rglob("model.safetensors")))
    trainable = [k for k in before if "embeddings" not in k and "pooler" not in k]
    assert trainable and all(not torch.equal(before[k], after[k]) for k in trainable), "a trainable weight did not move"
    assert all(torch.equal(before[k], after[k]) for k in before if "embeddings" in k)  # frozen

    model = load_embedder(out.model_dir)
    emb = model.encode(["will it rain in oslo", "book a flight to rome"], normalize_embeddings=False)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)  # the Normalize module is part of the model


def test_more_privacy_means_more_noise(tiny_encoder, tmp_path):
    texts, labels = _data()
    noise = {}
    for eps in (1.0, 8.0):
        cfg = EmbedderTrainConfig(epochs=1, batch_size=32, target_epsilon=eps, target_delta=1e-5)
        noise[eps] = train_embedder(tiny_encoder, texts, labels, tmp_path / f"e{eps}", cfg, progress=False).noise_multiplier
    assert noise[1.0] > noise[8.0]


def test_a_delta_that_allows_leaking_a_record_is_refused(tiny_encoder, tmp_path):
    texts, labels = _data()
    with pytest.raises(PrivacyConfigError, match="1/n"):
        train_embedder(tiny_encoder, texts, labels, tmp_path / "x", EmbedderTrainConfig(target_delta=0.01))
    assert not (tmp_path / "x").exists()


def _task(pairs, pool):
    from evals.retrieval import PairTask

    return PairTask(tuple(pairs), tuple(frozenset(pool[a] | pool[b]) for a, b in pairs), tuple(sorted(pool)),
                    tuple(frozenset(pool[t]) for t in sorted(pool)))


def _axis_embed(vectors):
    return lambda xs: np.array([vectors[x] for x in xs], dtype=float)


def test_retrieval_ranks_each_answer_among_the_other_intents_utterances():
    pool = {"a1": {"a"}, "a2": {"a"}, "a3": {"a"}, "b1": {"b"}, "b2": {"b"}, "c1": {"c"}, "c2": {"c"}}
    task = _task([("a1", "a2"), ("b1", "b2"), ("c1", "c2")], pool)
    axis = {"a": [1, 0, 0], "b": [0, 1, 0], "c": [0, 0, 1]}
    # a3 is as close to a1 as a2 is: another paraphrase of the same request, not a miss
    perfect = retrieval_metrics(_axis_embed({t: axis[t[0]] for t in pool}), task)
    assert perfect == {"recall_at_1": 1.0, "recall_at_5": 1.0, "mrr": 1.0, "pairs": 3}
    # a1 looks like b: b1 and b2 score higher than a2, and c1, c2 tie with it (ties count against the answer);
    # b's answer now ties with a1, a candidate of another intent
    wrong = retrieval_ranks(_axis_embed({**{t: axis[t[0]] for t in pool}, "a1": axis["b"]}), task)
    assert wrong.tolist() == [5, 2, 1]
    # a collapsed encoder ranks every answer behind every utterance of the other intents (4, 5 and 5), not first
    constant = retrieval_ranks(lambda xs: np.ones((len(xs), 3)) / np.sqrt(3), task)
    assert constant.tolist() == [5, 6, 6]


@pytest.mark.parametrize("seed", range(12))
def test_a_collapsed_encoder_of_real_width_never_ranks_an_answer_first(seed):
    # 384 dimensions, as MiniLM: the answer's score and its candidates' must come from one computation, or
    # rounding breaks the ties in the answer's favour now and then
    texts, labels = _data()
    task = paraphrase_task(texts, labels, per_label=5)
    v = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    v /= np.linalg.norm(v)
    ranks = retrieval_ranks(lambda xs: np.tile(v, (len(xs), 1)), task)
    assert (ranks == 1 + 3 * 48).all()  # behind every utterance of the three other intents


def test_a_text_written_for_two_intents_is_no_candidate_for_either():
    two = {"a1": {"a"}, "a2": {"a"}, "ab": {"a", "b"}, "b1": {"b"}, "b2": {"b"}}
    vectors = {"a1": [1, 0, 0], "a2": [0.6, 0, 0.8], "ab": [0.707, 0.707, 0], "b1": [0, 1, 0], "b2": [0, 0.6, 0.8]}
    # "ab" is closer to both queries than their answers are, but it is a paraphrase of both
    assert retrieval_ranks(_axis_embed(vectors), _task([("a1", "a2"), ("b1", "b2")], two)).tolist() == [1, 1]
    # written for a alone, it is a miss for b's query
    one = {**two, "ab": {"a"}}
    assert retrieval_ranks(_axis_embed(vectors), _task([("a1", "a2"), ("b1", "b2")], one)).tolist() == [1, 2]


def test_out_of_scope_rows_make_no_pair_and_are_candidates_for_every_pair():
    texts, labels = _data()
    off_topic = ["tell me a joke", "what is the meaning of life", "sing me a song", "who won the game"]
    task = paraphrase_task(texts + off_topic, labels + ["out_of_scope"] * 4, per_label=5,
                           unpaired=frozenset({"out_of_scope"}))
    assert len(task) == 4 * 5 and not any(t in off_topic for pair in task.pairs for t in pair)
    assert set(off_topic) <= set(task.pool)
    # an encoder that scores everything alike ranks each answer behind the off-topic requests too
    ranks = retrieval_ranks(lambda xs: np.ones((len(xs), 2)) / np.sqrt(2), task)
    assert (ranks == 1 + 4 + 3 * 48).all()


def test_paraphrase_task_pairs_are_disjoint_within_an_intent_over_a_pool_of_every_text():
    texts, labels = _data()
    task = paraphrase_task(texts, labels, per_label=5)
    assert len(task) == 4 * 5
    flat = [t for p in task.pairs for t in p]
    assert len(flat) == len(set(flat))
    label_of = dict(zip(texts, labels))
    assert all({label_of[a]} == {label_of[b]} == y for (a, b), y in zip(task.pairs, task.pair_labels))
    assert sorted(task.pool) == sorted(set(texts))
    assert all(owners == {label_of[t]} for t, owners in zip(task.pool, task.pool_labels))
    assert paraphrase_task(texts, labels, per_label=5) == task  # deterministic for a seed


def test_an_encoder_of_the_intents_alone_is_not_capped():
    # 3 intents with 2, 6 and 10 pairs. Ranked among every pair's answer, as the first version of this metric
    # did, an encoder that knows only the intent scored recall@5 (2 + 5 + 5) / 18 on average: its own answer is
    # no closer to a query than the intent's other answers. Ranked among the other intents, it scores 1.
    texts = [f"{y} utterance {i}" for y, n in (("a", 4), ("b", 12), ("c", 20)) for i in range(n)]
    labels = [t.split()[0] for t in texts]
    task = paraphrase_task(texts, labels, per_label=10)
    rng = np.random.default_rng(0)
    axis = {y: np.eye(8)[i] for i, y in enumerate("abc")}

    def embed(xs):
        v = np.stack([5 * axis[x.split()[0]] + rng.normal(size=8) * 0.3 for x in xs])
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    assert retrieval_metrics(embed, task)["recall_at_1"] == 1.0
    # and one that knows nothing scores what chance gives: about 5 of the 17 to 33 ranked (0.25 here)
    noise = lambda xs: rng.normal(size=(len(xs), 8))  # noqa: E731
    assert 0.15 < np.mean([retrieval_metrics(noise, task)["recall_at_5"] for _ in range(50)]) < 0.35


@pytest.mark.parametrize("trainable_layers", [1, -1])
def test_the_top_over_cached_bottom_features_embeds_like_the_whole_encoder(tiny_encoder, trainable_layers):
    from transformers import AutoModel, AutoTokenizer

    from training.dp_embedder import _cosine_classifier, _freeze_all_but_top, _frozen_features

    texts = ["will it rain in oslo", "hi", "book a flight to rome please, today if you can"]
    tok = AutoTokenizer.from_pretrained(tiny_encoder)
    enc = tok(texts, padding="max_length", truncation=True, max_length=16, return_tensors="pt")
    encoder = AutoModel.from_pretrained(tiny_encoder, dtype=torch.float32).eval()
    top = _freeze_all_but_top(encoder, trainable_layers)
    assert 0 < len(top) <= len(encoder.encoder.layer) and all(p.requires_grad for layer in top for p in layer.parameters())
    features = _frozen_features(encoder, len(encoder.encoder.layer) - len(top), enc["input_ids"], enc["attention_mask"], "cpu")
    head = _cosine_classifier(encoder.config, top, 4, 20.0).eval()
    width = int(enc["attention_mask"].sum(1).max())  # cut as in training
    with torch.no_grad():
        cached = head.embed(features[:, :width], enc["attention_mask"][:, :width])
        out = encoder(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        whole = torch.nn.functional.normalize((out * mask).sum(1) / mask.sum(1), dim=-1)
    assert torch.allclose(cached, whole, atol=1e-5)
