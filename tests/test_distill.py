"""Distillation library on tiny Llama models: student init, tokenizer check, dialog masking, KD loss,
training (every parameter moves, loss falls, perplexity falls) and resume."""

import json
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM, Trainer

from evals.llm_metrics import perplexity
from tests.tiny_models import build_tiny_llm
from training.distill import (
    STUDENT_INFO,
    TRAIN_INFO,
    DistillConfig,
    DistillationTrainer,
    TokenizerMismatchError,
    check_same_tokenizer,
    distill,
    distillation_loss,
    init_student_from_teacher,
    spread_layers,
    tokenize_dialogs,
)
from training.errors import DataValidationError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECORDS = [
    {"messages": [{"role": "system", "content": "You are convbot."},
                  {"role": "user", "content": f"what is the weather in city {i}"},
                  {"role": "assistant", "content": f"It is sunny in city {i} today."}]}
    for i in range(8)
]
FAST = {"max_steps": 6, "learning_rate": 1e-2, "eval_steps": 3, "save_steps": 3, "logging_steps": 1,
        "save_total_limit": 3, "warmup_steps": 0}



@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    torch.manual_seed(0)  # the same tiny weights on every run
    return build_tiny_llm(tmp_path_factory.mktemp("teacher4"), layers=4)


@pytest.fixture(scope="module")
def student(teacher, tmp_path_factory):
    return init_student_from_teacher(teacher, tmp_path_factory.mktemp("s") / "student", [0, 3])


@pytest.fixture(scope="module")
def tokenizer(teacher):
    return AutoTokenizer.from_pretrained(teacher)


def test_spread_layers_is_even_and_keeps_both_ends():
    assert spread_layers(30, 10) == [0, 3, 6, 10, 13, 16, 19, 23, 26, 29]
    assert spread_layers(4, 2) == [0, 3]
    assert spread_layers(5, 5) == [0, 1, 2, 3, 4]
    assert spread_layers(7, 1) == [0]
    with pytest.raises(ValueError):
        spread_layers(4, 5)


def test_student_copies_embeddings_norm_head_and_chosen_layers(teacher, student):
    t = LlamaForCausalLM.from_pretrained(teacher).state_dict()
    s = LlamaForCausalLM.from_pretrained(student)
    assert s.config.num_hidden_layers == 2
    for key, value in s.state_dict().items():
        src = key.replace("layers.1.", "layers.3.") if "layers.1." in key else key
        assert torch.equal(value, t[src]), f"{key} is not the teacher's {src}"
    info = json.loads((student / STUDENT_INFO).read_text())
    assert info["layer_map"] == {"0": 0, "1": 3} and info["teacher_layers"] == 4
    assert AutoTokenizer.from_pretrained(student).chat_template  # the teacher's template travels
    check_same_tokenizer(teacher, student)  # no error


@pytest.mark.parametrize("layers", [[], [3, 0], [0, 0], [0, 4], [-1, 2]])
def test_student_layers_must_be_increasing_and_in_range(teacher, tmp_path, layers):
    with pytest.raises(ValueError, match="layers"):
        init_student_from_teacher(teacher, tmp_path / "bad", layers)
    assert not (tmp_path / "bad").exists()


def test_tokenize_dialogs_masks_everything_but_the_final_reply(tokenizer):
    feats = tokenize_dialogs(RECORDS[:2], tokenizer, max_length=256)
    f = feats[0]
    assert len(f["input_ids"]) == len(f["labels"]) == len(f["attention_mask"])
    full = tokenizer.apply_chat_template(RECORDS[0]["messages"], tokenize=False)
    assert tokenizer.decode(f["input_ids"]) == full
    supervised = [i for i in f["labels"] if i != -100]
    assert tokenizer.decode(supervised).startswith("It is sunny in city 0 today.<|im_end|>")
    first = f["labels"].index(supervised[0])
    assert all(label == -100 for label in f["labels"][:first])
    assert f["labels"][first:] == f["input_ids"][first:]
    prompt = tokenizer.apply_chat_template(RECORDS[0]["messages"][:-1], tokenize=False, add_generation_prompt=True)
    assert tokenizer.decode(f["input_ids"][:first]) == prompt
    # cut on the right; a record whose reply is cut away entirely is skipped
    assert len(tokenize_dialogs(RECORDS[:1], tokenizer, max_length=first + 2)[0]["input_ids"]) == first + 2
    assert tokenize_dialogs(RECORDS[:1], tokenizer, max_length=first) == []


@pytest.mark.parametrize("record, field", [
    ("hello", None),
    ({"msgs": []}, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}, "ok"]}, "messages[1]"),
    ({"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "ok"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "ok"}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "ok"}]}, "messages[1].role"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": " "}]}, "messages[1].content"),
])
def test_malformed_records_name_the_record_and_field(tokenizer, record, field):
    with pytest.raises(DataValidationError) as err:
        tokenize_dialogs([RECORDS[0], record], tokenizer, 64, source="train.jsonl")
    assert err.value.file == "train.jsonl" and err.value.row == 1 and err.value.field == field
    assert "train.jsonl, row 1" in str(err.value)


def test_distillation_loss_is_the_kd_mix_on_response_tokens():
    torch.manual_seed(0)
    s, t = torch.randn(2, 5, 11), torch.randn(2, 5, 11)
    labels = torch.tensor([[-100, -100, 3, 4, 5], [-100, 7, 8, -100, -100]])
    loss, kl, ce = distillation_loss(s, t, labels, temperature=2.0, alpha=0.25)
    # by hand: position p predicts labels[p + 1]
    pos = [(0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    tgt = torch.tensor([labels[b, p + 1] for b, p in pos])
    sp, tp = torch.stack([s[b, p] for b, p in pos]), torch.stack([t[b, p] for b, p in pos])
    ce_ref = torch.nn.functional.cross_entropy(sp, tgt)
    pt = torch.softmax(tp / 2, -1)
    kl_ref = (pt * (pt.log() - torch.log_softmax(sp / 2, -1))).sum(-1).mean()
    assert torch.allclose(ce, ce_ref) and torch.allclose(kl, kl_ref, atol=1e-6)
    assert torch.allclose(loss, 0.25 * 4 * kl_ref + 0.75 * ce_ref, atol=1e-6)
    same, kl0, _ = distillation_loss(t, t, labels, 2.0, 1.0)
    assert abs(float(kl0)) < 1e-6 and abs(float(same)) < 1e-5
    assert issubclass(DistillationTrainer, Trainer)


def test_tokenizer_mismatch_is_refused_before_training(teacher, tmp_path):
    tok = AutoTokenizer.from_pretrained(teacher)
    tok.add_tokens(["<|tool_call|>"])
    other = AutoModelForCausalLM.from_pretrained(teacher)
    other.resize_token_embeddings(len(tok))
    other.save_pretrained(tmp_path / "other")
    tok.save_pretrained(tmp_path / "other")
    with pytest.raises(TokenizerMismatchError) as err:
        distill(teacher, tmp_path / "other", RECORDS, RECORDS[:2], tmp_path / "work", DistillConfig(overrides=FAST))
    msg = str(err.value)
    assert str(teacher) in msg and str(tmp_path / "other") in msg
    assert "vocab size 49152 (teacher) vs 49153 (student)" in msg and "<|tool_call|>" in msg
    assert not (tmp_path / "work").exists()  # nothing ran


def test_distill_moves_every_parameter_lowers_loss_and_perplexity_then_resumes(teacher, student, tmp_path):
    logged = []
    out = distill(teacher, student, RECORDS, RECORDS[:4], tmp_path / "work",
                  DistillConfig(overrides=FAST, max_length=64), metrics_sink=lambda m, s: logged.append((s, m)))
    assert out.resumed_from is None and out.n_train == 8 and out.n_eval == 4

    before = dict(AutoModelForCausalLM.from_pretrained(student).named_parameters())
    trained = AutoModelForCausalLM.from_pretrained(out.model_dir)
    for name, param in trained.named_parameters():
        assert not torch.equal(param, before[name]), f"{name} did not change"

    losses = [h["loss"] for h in out.log_history if "loss" in h]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert any("distill_kl" in m and "distill_ce" in m for _, m in logged)
    assert any("eval_loss" in m for _, m in logged)
    assert math.isfinite(out.validation["eval_loss"])

    info = json.loads((out.model_dir / TRAIN_INFO).read_text())
    assert info["config"]["alpha"] == 0.5 and info["config"]["temperature"] == 2.0
    assert info["teacher"] == str(teacher) and "validation" in info
    assert json.loads((out.model_dir / STUDENT_INFO).read_text())["layer_map"] == {"0": 0, "1": 3}
    assert AutoTokenizer.from_pretrained(out.model_dir).chat_template
    assert trained.config.use_cache, "a student saved without its KV cache decodes (and drafts) quadratically"

    tok = AutoTokenizer.from_pretrained(out.model_dir)
    ppl_trained = perplexity(trained, tok, RECORDS, max_length=64)
    ppl_untrained = perplexity(AutoModelForCausalLM.from_pretrained(student), tok, RECORDS, max_length=64)
    assert math.isfinite(ppl_trained) and math.isfinite(ppl_untrained)
    assert ppl_trained < ppl_untrained

    # the same work folder with a longer schedule: a killed run picked up again
    again = distill(teacher, student, RECORDS, RECORDS[:4], tmp_path / "work",
                    DistillConfig(overrides={**FAST, "max_steps": 8}, max_length=64))
    assert again.resumed_from is not None and again.resumed_from.endswith("checkpoint-6")
    steps = [h["step"] for h in again.log_history if "loss" in h]
    assert max(steps) == 8
