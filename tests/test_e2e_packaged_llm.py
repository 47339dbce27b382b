"""End-to-end with the real packaged SmolLM2 on small slices of real data (CLINC150): import, paraphrase,
distillation and speculative decoding. (A file apart from the encoder ones, so that two test workers share them.)"""

import json

import pytest

from training.base_models import resolve_llm
from training.paraphrase import LocalLLMParaphraser

pytestmark = pytest.mark.e2e


def test_packaged_smollm2_imports_once_and_paraphrases(tmp_path):
    first = resolve_llm(store_dir=tmp_path)
    again = resolve_llm(store_dir=tmp_path)
    assert first == again and len(first.checksum) == 64
    cfg = json.loads((tmp_path.glob("smollm2-*/config.json").__next__()).read_text())
    assert "quantization_config" not in cfg
    out = LocalLLMParaphraser(first.path, max_new_tokens=16).paraphrase(["book a flight to Paris tomorrow"], n=2)
    assert len(out[0]) == 2 and any(len(t.split()) >= 2 for t in out[0])


def test_packaged_teacher_distills_and_its_student_drafts_the_teachers_own_greedy_output(tmp_path, clinc_path):
    import torch
    from safetensors.torch import load_file

    from evals.llm_metrics import perplexity
    from serving.llm_runtime import acceptance_rate, generate_greedy, load_causal_lm
    from training.dialog_corpus import DialogCorpusConfig, messages_for, teacher_replies
    from training.distill import DistillConfig, distill, init_student_from_teacher, spread_layers
    from training.quantize import quantize_int8

    teacher = resolve_llm(store_dir=tmp_path / "base").path
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
