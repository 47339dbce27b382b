"""DP-SGD embedder fine-tune (Opacus) on a tiny BERT, the privacy budget ledger and retrieval metrics."""

import numpy as np
import pytest
import torch
from mlflow import MlflowClient
from safetensors.torch import load_file

from evals.retrieval import paraphrase_pairs, retrieval_metrics
from training.dp_embedder import EmbedderTrainConfig, PrivacyConfigError, load_embedder, train_embedder
from training.privacy_ledger import TAGS, LedgerEntry, PrivacyBudgetExceeded, check_budget, read_ledger, spent

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


def test_budget_refuses_a_run_past_the_total_and_says_what_is_left():
    ledger = [LedgerEntry("emb", "1", 8.0, 1e-5, "v1", "intents/train"),
              LedgerEntry("emb", "2", 8.0, 1e-5, "v2", "intents/train"),
              LedgerEntry("emb", "3", 8.0, 1e-5, "v1", "support_chats")]
    assert spent(ledger, "intents/train") == (16.0, 2e-5)
    assert check_budget(ledger, "intents/train", 4.0, 20.0) == pytest.approx(0.0)
    with pytest.raises(PrivacyBudgetExceeded, match=r"16 of 20 is spent .*4 is left and this run needs 8"):
        check_budget(ledger, "intents/train", 8.0, 20.0)
    assert check_budget(ledger, "support_chats", 8.0, 20.0) == pytest.approx(4.0)


def test_ledger_reads_guarantees_from_registry_tags(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path}/m.db", f"sqlite:///{tmp_path}/m.db")
    client.create_registered_model("emb")
    run = client.create_run(client.create_experiment("x", artifact_location=str(tmp_path / "a")))
    for eps in (3.0, 5.0):
        v = client.create_model_version("emb", f"runs:/{run.info.run_id}/model", run.info.run_id)
        for field, value in {"epsilon": eps, "delta": 1e-5, "data_version": "abc", "data_source": "s"}.items():
            client.set_model_version_tag("emb", v.version, TAGS[field], str(value))
    client.create_model_version("emb", f"runs:/{run.info.run_id}/model", run.info.run_id)  # no DP tags: not counted
    entries = read_ledger(client, ["emb"])
    assert [(e.version, e.epsilon) for e in entries] == [("1", 3.0), ("2", 5.0)]
    assert spent(entries, "s")[0] == 8.0


def test_retrieval_metrics_rank_the_paired_paraphrase():
    pairs = [("a1", "a2"), ("b1", "b2"), ("c1", "c2")]
    vectors = {"a": [1, 0, 0], "b": [0, 1, 0], "c": [0, 0, 1]}
    perfect = retrieval_metrics(lambda xs: np.array([vectors[x[0]] for x in xs], dtype=float), pairs)
    assert perfect == {"recall_at_1": 1.0, "recall_at_5": 1.0, "mrr": 1.0, "pairs": 3}
    constant = retrieval_metrics(lambda xs: np.ones((len(xs), 3)) / np.sqrt(3), pairs)  # all tie: rank 1 each
    swapped = {"a1": [0, 1, 0], "a2": [1, 0, 0], "b1": [1, 0, 0], "b2": [0, 1, 0], "c1": [0, 0, 1], "c2": [0, 0, 1]}
    wrong = retrieval_metrics(lambda xs: np.array([swapped[x] for x in xs], dtype=float), pairs)
    assert wrong["recall_at_1"] == pytest.approx(1 / 3) and wrong["mrr"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert constant["recall_at_1"] == 1.0  # ties are not counted against the answer


def test_paraphrase_pairs_are_disjoint_within_an_intent():
    texts, labels = _data()
    pairs = paraphrase_pairs(texts, labels, per_label=5)
    assert len(pairs) == 4 * 5
    flat = [t for p in pairs for t in p]
    assert len(flat) == len(set(flat))
    label_of = dict(zip(texts, labels))
    assert all(label_of[a] == label_of[b] for a, b in pairs)
