"""int8 quantization, the serving LLM runtime (fresh-process load, assisted generation, acceptance
rate) and LLM metrics, on tiny Llama models."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from evals.llm_metrics import perplexity
from serving import int8_linear
from serving.llm_runtime import ModelLoadError, acceptance_rate, generate_greedy, load_causal_lm
from tests.conftest import ROOT
from tests.tiny_models import build_tiny_llm
from training import quantize
from training.distill import init_student_from_teacher
from training.quantize import linear_weight_bytes, quantize_int8

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROMPTS = ["what's the weather in Paris", "book a flight to Rome tomorrow", "reset my password",
           [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]]
RECORDS = [{"messages": [{"role": "user", "content": f"question {i}"},
                         {"role": "assistant", "content": f"answer number {i} is fine"}]} for i in range(6)]



@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    # hidden 128: each int8 row carries a 2-byte scale, a small share of the bytes from here on
    torch.manual_seed(0)  # the same tiny weights on every run: greedy ties cannot flip between runs
    return build_tiny_llm(tmp_path_factory.mktemp("teacher128"), hidden=128, layers=4)


@pytest.fixture(scope="module")
def student(teacher, tmp_path_factory):
    return init_student_from_teacher(teacher, tmp_path_factory.mktemp("s") / "student", [0, 3])


@pytest.fixture(scope="module")
def int8_dir(teacher, tmp_path_factory):
    return quantize_int8(teacher, tmp_path_factory.mktemp("q") / "int8")


def test_int8_is_3x_smaller_and_recorded(teacher, int8_dir):
    info = json.loads((int8_dir / quantize.QUANT_INFO).read_text())
    assert info["linear_weight_bytes_fp32"] / info["linear_weight_bytes_int8"] >= 3.0
    assert len(info["quantized_modules"]) == 4 * 7 + 1  # q k v o gate up down per layer + lm_head
    assert info["source_checksum"] and info["state_dict_sha256"]
    fp32, tok = load_causal_lm(teacher)
    assert linear_weight_bytes(fp32) == info["linear_weight_bytes_fp32"]
    q, _ = load_causal_lm(int8_dir)
    assert linear_weight_bytes(q) == info["linear_weight_bytes_int8"]
    assert {p.name for p in int8_dir.iterdir()} >= {"config.json", "tokenizer.json", "int8_model.safetensors",
                                                     "convbot_quant.json"}
    assert not [p for p in int8_dir.parent.iterdir() if p.name.startswith(".")]  # no scratch left behind
    # close to the fp32 model: perplexity within 10%, logits within a few percent of their range
    ppl32, ppl8 = perplexity(fp32, tok, RECORDS, 64), perplexity(q, tok, RECORDS, 64)
    assert abs(ppl8 / ppl32 - 1) < 0.10
    x = torch.tensor([[1, 520, 9531, 198, 28120, 3289]])
    with torch.no_grad():
        a, b = fp32(x).logits, q(x).logits
    assert float((a - b).abs().max()) < 0.1 * float(a.abs().max())


def test_fresh_process_loads_int8_without_training_code(int8_dir):
    code = (
        "import json, sys\n"
        "import torch; torch.set_num_threads(1)\n"
        "from serving.llm_runtime import load_causal_lm, generate_greedy\n"
        f"model, tok = load_causal_lm({str(int8_dir)!r})\n"
        f"_, ids, _ = generate_greedy(model, tok, {PROMPTS[:2]!r}, 8)\n"
        "print(json.dumps({'ids': ids, 'training': sorted(m for m in sys.modules if m.split('.')[0] == 'training'),"
        " 'lm_head': type(model.lm_head).__module__}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["training"] == []
    assert result["lm_head"] == "serving.int8_linear"
    model, tok = load_causal_lm(int8_dir)
    _, ids, _ = generate_greedy(model, tok, PROMPTS[:2], 8)
    assert result["ids"] == ids


def test_incomplete_or_tampered_int8_folder_is_refused(int8_dir, tmp_path):
    import shutil

    broken = shutil.copytree(int8_dir, tmp_path / "broken")
    (broken / quantize.INT8_STATE).unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        load_causal_lm(broken)
    tampered = shutil.copytree(int8_dir, tmp_path / "tampered")
    info = json.loads((tampered / quantize.QUANT_INFO).read_text())
    (tampered / quantize.QUANT_INFO).write_text(json.dumps({**info, "state_dict_sha256": "0" * 64}))
    with pytest.raises(ModelLoadError, match="checksum"):
        load_causal_lm(tampered)


def test_assisted_generation_gives_the_teachers_greedy_tokens(teacher, student):
    model, tok = load_causal_lm(teacher)
    draft, _ = load_causal_lm(student)
    texts, ids, stats = generate_greedy(model, tok, PROMPTS, 16)
    texts_a, ids_a, stats_a = generate_greedy(model, tok, PROMPTS, 16, assistant_model=draft)
    assert ids_a == ids and texts_a == texts
    assert stats["new_tokens"] == stats_a["new_tokens"] == sum(len(i) for i in ids) > 0
    assert stats_a["assisted"] and not stats["assisted"]
    assert stats["tokens_per_s"] > 0 and stats_a["seconds"] > 0


def test_batched_greedy_gives_each_prompt_its_own_greedy_tokens(teacher):
    model, tok = load_causal_lm(teacher)
    texts, ids, stats = generate_greedy(model, tok, PROMPTS, 16)
    texts_b, ids_b, stats_b = generate_greedy(model, tok, PROMPTS, 16, batch_size=3)  # a full batch and one of 1
    assert ids_b == ids and texts_b == texts
    assert stats_b["prompts"] == len(PROMPTS) and stats_b["new_tokens"] == stats["new_tokens"]
    # a prompt that ends early (its end token, taken here from its own answer) is cut there, not padded on
    stop = ids[0][3]
    model.generation_config.eos_token_id = stop
    _, ids, _ = generate_greedy(model, tok, PROMPTS, 16)
    _, ids_b, _ = generate_greedy(model, tok, PROMPTS, 16, batch_size=4)
    assert ids[0][-1] == stop and len(ids[0]) <= 4 and max(map(len, ids)) > len(ids[0])
    assert ids_b == ids


def test_acceptance_rate(teacher, student):
    model, tok = load_causal_lm(teacher)
    draft, _ = load_causal_lm(student)
    _, ids, _ = generate_greedy(model, tok, PROMPTS[:3], 12)
    self_draft = acceptance_rate(model, model, tok, PROMPTS[:3], 12, num_draft_tokens=5, target_token_ids=ids)
    assert self_draft["acceptance_rate"] == 1.0
    n = sum(len(i) for i in ids)
    assert self_draft["positions"] == n
    assert self_draft["target_calls"] == sum(math.ceil(len(i) / 6) for i in ids)  # 5 drafted + 1 own per call
    other = acceptance_rate(model, draft, tok, PROMPTS[:3], 12, num_draft_tokens=5)
    assert 0.0 <= other["acceptance_rate"] <= 1.0
    assert other["positions"] == n  # generated the same continuation itself
    assert 1.0 <= other["tokens_per_target_call"] <= 6.0


def test_peak_memory_sees_torch_allocations():
    # a fresh interpreter: in the test process, memory freed by earlier tests stays resident and a new
    # 100 MB tensor can reuse it without raising the RSS (what evals.llm_profile avoids the same way)
    code = ("import json, torch\n"
            "from evals.llm_metrics import peak_memory_mb\n"
            "mb, total = peak_memory_mb(lambda: float(torch.ones(25_000_000).sum()))\n"  # 100 MB, freed on return
            "small, _ = peak_memory_mb(lambda: 1 + 1)\n"
            "print(json.dumps([mb, total, small]))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mb, total, small = json.loads(proc.stdout.strip().splitlines()[-1])
    assert total == 25_000_000.0
    assert 80 <= mb <= 400
    assert small < 20


def test_a_fixed_draft_length_sets_how_many_tokens_each_teacher_call_checks(teacher):
    import copy

    model, tok = load_causal_lm(teacher)
    draft = copy.deepcopy(model)  # a perfect draft: every proposed token is accepted
    _, ids, _ = generate_greedy(model, tok, PROMPTS[:1], 12)
    calls: list[int] = []
    model.register_forward_hook(lambda *_: calls.append(1))
    target_calls = {}
    for k in (1, 5):
        calls.clear()
        _, ids_k, _ = generate_greedy(model, tok, PROMPTS[:1], 12, assistant_model=draft, draft_tokens=k)
        assert ids_k == ids
        target_calls[k] = len(calls)
        assert draft.generation_config.num_assistant_tokens == k
        assert draft.generation_config.num_assistant_tokens_schedule == "constant"
    n = len(ids[0])
    # each teacher call accepts the k drafted tokens and adds one of its own
    assert target_calls[1] >= math.ceil(n / 2) and target_calls[5] <= math.ceil(n / 6) + 1, target_calls
    with pytest.raises(ValueError, match="draft_tokens"):
        generate_greedy(model, tok, PROMPTS[:1], 4, assistant_model=draft, draft_tokens=0)


@pytest.mark.parametrize("rows", [1, int8_linear.GEMM_FROM_ROWS - 1, int8_linear.GEMM_FROM_ROWS, 55])
def test_int8_layer_computes_its_dequantized_matmul_on_either_path(rows, monkeypatch):
    # more output features than one converted block, so the prefill path's blocks must line up
    torch.manual_seed(0)
    dense = torch.nn.Linear(48, int8_linear._GEMM_BLOCK + 77)
    layer = int8_linear.Int8WeightOnlyLinear.from_linear(dense)
    taken = []
    kernel = torch._weight_int8pack_mm
    monkeypatch.setattr(torch, "_weight_int8pack_mm", lambda *a: taken.append("kernel") or kernel(*a))
    x = torch.randn(1, rows, 48)
    want = x @ layer.dequantized_weight().T + dense.bias.detach()
    got = layer(x)
    assert got.shape == want.shape and got.dtype == torch.float32
    # bf16 activations and outputs: a few parts in a thousand, nowhere a misplaced block
    assert (got - want).abs().max() <= 1e-2 * want.abs().max()
    assert taken == (["kernel"] if rows < int8_linear.GEMM_FROM_ROWS else [])


def test_int8_prefill_path_keeps_the_models_perplexity(int8_dir, monkeypatch):
    model, tok = load_causal_lm(int8_dir)
    monkeypatch.setattr(int8_linear, "GEMM_FROM_ROWS", 10**9)
    kernel_only = perplexity(model, tok, RECORDS)
    monkeypatch.setattr(int8_linear, "GEMM_FROM_ROWS", 1)
    gemm_only = perplexity(model, tok, RECORDS)
    assert math.isfinite(kernel_only) and abs(gemm_only / kernel_only - 1) < 0.01
