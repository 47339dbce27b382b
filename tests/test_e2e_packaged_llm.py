"""End-to-end with the real packaged SmolLM2 on small slices of real data (CLINC150): import, paraphrase,
distillation, speculative decoding and DPO on corrections. (A file apart from the encoder ones, so that two
test workers share them; one import of the GGUF for the whole file, as one project state would hold it.)"""

import json
import random

import pytest

from training.base_models import resolve_llm
from training.paraphrase import LocalLLMParaphraser

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The model store the file's tests share: the GGUF is imported into it by the first resolve."""
    return tmp_path_factory.mktemp("store")


def test_packaged_smollm2_imports_once_and_paraphrases(store):
    first = resolve_llm(store_dir=store)
    again = resolve_llm(store_dir=store)
    assert first == again and len(first.checksum) == 64
    cfg = json.loads((store.glob("smollm2-*/config.json").__next__()).read_text())
    assert "quantization_config" not in cfg
    out = LocalLLMParaphraser(first.path, max_new_tokens=16).paraphrase(["book a flight to Paris tomorrow"], n=2)
    assert len(out[0]) == 2 and any(len(t.split()) >= 2 for t in out[0])


def test_packaged_teacher_distills_and_its_student_drafts_the_teachers_own_greedy_output(store, tmp_path, clinc_path):
    import torch
    from safetensors.torch import load_file

    from evals.llm_metrics import perplexity
    from serving.llm_runtime import acceptance_rate, generate_greedy, load_causal_lm
    from training.dialog_corpus import DialogCorpusConfig, messages_for, teacher_replies
    from training.distill import DistillConfig, distill, init_student_from_teacher, spread_layers
    from training.quantize import quantize_int8

    teacher = resolve_llm(store_dir=store).path
    clinc = json.loads(clinc_path.read_text())
    users = [text for text, _ in clinc["test"][::450][:10]]  # real user requests, ten different intents
    replies = teacher_replies(teacher, users, DialogCorpusConfig(max_new_tokens=24, batch_size=5))
    records = [{"messages": messages_for(u, r)} for u, r in zip(users, replies) if r.strip()]
    assert len(records) >= 8

    student_init = init_student_from_teacher(teacher, tmp_path / "init", spread_layers(30, 6))
    cfg = DistillConfig(max_length=128, overrides={"max_steps": 3, "per_device_train_batch_size": 2,
                                                   "eval_steps": 3, "save_steps": 3, "logging_steps": 1})
    outcome = distill(teacher, student_init, records[:-3], records[-3:], tmp_path / "work", cfg)
    before, after = load_file(student_init / "model.safetensors"), load_file(outcome.model_dir / "model.safetensors")
    assert [k for k in before if torch.equal(before[k], after[k])] == [], "a trainable parameter did not move"

    # speculative decoding on real prompts: the teacher's own greedy tokens, whatever the draft proposes
    target, tokenizer = load_causal_lm(teacher)
    draft, _ = load_causal_lm(outcome.model_dir)
    prompts = [messages_for(u) for u in users[:4]]
    _, alone, _ = generate_greedy(target, tokenizer, prompts, max_new_tokens=32)
    _, assisted, stats = generate_greedy(target, tokenizer, prompts, max_new_tokens=32, assistant_model=draft)
    assert assisted == alone and stats["assisted"]
    accept = acceptance_rate(target, draft, tokenizer, prompts, 32, target_token_ids=alone)
    assert 0.0 < accept["acceptance_rate"] <= 1.0

    # int8 of the real model (a three-step student is too far from converged to say much): a fresh load
    # works and scores like fp32 on the teacher's replies
    int8, _ = load_causal_lm(quantize_int8(teacher, tmp_path / "int8"))
    ppl_fp32, ppl_int8 = perplexity(target, tokenizer, records), perplexity(int8, tokenizer, records)
    assert abs(ppl_int8 / ppl_fp32 - 1) < 0.10, (ppl_fp32, ppl_int8)


def test_packaged_smollm2_learns_from_corrections(store, tmp_path):
    from training.dpo import DpoRunConfig, implicit_rewards, load_policy, preference_accuracy, train_dpo_adapter
    from training.feedback import read_feedback, synthetic_feedback
    from training.preferences import build_pairs

    # a LoRA adapter on the packaged SmolLM2, a few steps on synthetic corrections
    inbox = tmp_path / "feedback.jsonl"
    inbox.write_text("\n".join(synthetic_feedback(120, seed=5, malformed_fraction=0.0)) + "\n")
    splits, _ = build_pairs(read_feedback([inbox]).records)
    llm = resolve_llm(store_dir=store).path
    cfg = DpoRunConfig(overrides={"max_steps": 6, "per_device_train_batch_size": 4, "learning_rate": 1e-3,
                                  "eval_steps": 6, "save_steps": 6, "logging_steps": 2, "max_length": 96})
    # as many pairs as six steps of four see (the reference log-probs are computed for every training pair
    # first), drawn across scenarios: the pairs come grouped by scenario
    seen = random.Random(0).sample(splits["train"], 24)
    out = train_dpo_adapter(llm, seen, splits["heldout"][:8], tmp_path / "dpo", cfg)
    model, tokenizer = load_policy(llm, out.adapter_dir)
    rewards = implicit_rewards(model, tokenizer, splits["heldout"][:8], beta=0.1, max_length=96)
    assert preference_accuracy(rewards) > 0.5  # six steps already rank most held-out corrections first
