"""The bot's LLM core at run time: load a causal LM (plain or int8), greedy generation with an
optional draft model (speculative / assisted decoding), and the draft's acceptance rate.

Imports only torch and transformers (not `training`), so a serving process stays small. The int8
folder layout is described in `serving.int8_linear`.

Assisted generation (transformers `generate(assistant_model=...)`): the draft proposes a few tokens,
the target checks them all in one forward pass and keeps the longest prefix that matches its own
greedy choice, plus one token of its own. Under greedy decoding the output is therefore the target's
own greedy output, token for token; only the speed changes. transformers supports it for batch size 1,
so every prompt is generated on its own (with or without a draft, so timings compare).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

from .int8_linear import INT8_STATE, QUANT_INFO, Int8WeightOnlyLinear, replace_linears

Prompt = str | list[dict]


class ModelLoadError(RuntimeError):
    """The folder is neither a save_pretrained causal LM nor a complete int8 folder."""


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def is_int8_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / QUANT_INFO).exists()


def _load_int8(path: Path, verify_checksum: bool):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    info = json.loads((path / QUANT_INFO).read_text())
    state_file = path / INT8_STATE
    if not state_file.exists():
        raise ModelLoadError(f"{path}: {QUANT_INFO} is there but {INT8_STATE} is missing (an incomplete copy?)")
    if verify_checksum and info.get("state_dict_sha256") and _sha256(state_file) != info["state_dict_sha256"]:
        raise ModelLoadError(f"{state_file}: checksum differs from {QUANT_INFO} (corrupted or replaced)")

    from accelerate import init_empty_weights

    config = AutoConfig.from_pretrained(path)
    # parameters on the meta device: the fp32 weights are never materialised (peak memory stays near the
    # int8 size); buffers (rotary tables) are real. The int8 Linears replace the meta ones, and the state
    # dict's tensors are assigned in place of the remaining meta parameters (embeddings, norms).
    with init_empty_weights(include_buffers=False):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.eval()
    try:
        replace_linears(model, info["quantized_modules"], from_weights=False)
        state = load_file(state_file)
        # tensors read from the file are not aligned as the int8 matmul kernel needs (it crashes on them):
        # the int8 weights get storage of their own
        state = {k: v.clone() if k.endswith(".weight_int8") else v for k, v in state.items()}
        model.load_state_dict(state, strict=True, assign=True)
    except (KeyError, RuntimeError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"{path}: the int8 weights do not fit the model built from config.json: {exc}") from exc
    left_on_meta = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.device.type == "meta"]
    if left_on_meta:
        raise ModelLoadError(f"{path}: {INT8_STATE} has no weights for {left_on_meta[:3]}")
    quantized = sorted(n for n, m in model.named_modules() if isinstance(m, Int8WeightOnlyLinear))
    if quantized != sorted(info["quantized_modules"]):
        raise ModelLoadError(f"{path}: quantized modules {quantized[:3]}... differ from {QUANT_INFO}")
    return model.eval()


def load_causal_lm(path: str | os.PathLike, verify_checksum: bool = True):
    """(model, tokenizer) from a `save_pretrained` folder or an int8 folder from `quantize_int8`.

    The model is in eval mode on the CPU, fp32 (activations) either way.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").exists():
        raise ModelLoadError(f"{path} has no config.json: not a saved causal LM")
    tokenizer = AutoTokenizer.from_pretrained(path)
    if is_int8_dir(path):
        model = _load_int8(path, verify_checksum)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return model, tokenizer


def encode_prompt(tokenizer, prompt: Prompt, chat: bool = True) -> list[int]:
    """Token ids of a prompt. With `chat`, a string is one user turn and a list is a message list,
    rendered with the chat template and the generation prompt; without, the string is used as is."""
    if chat and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if not isinstance(prompt, str):
        raise TypeError("a message list needs chat=True and a tokenizer with a chat template")
    return list(tokenizer(prompt)["input_ids"])


def _check_draft(model, assistant_model) -> None:
    v_target, v_draft = model.config.vocab_size, assistant_model.config.vocab_size
    if v_target != v_draft:
        raise ValueError(f"the draft model's vocabulary ({v_draft}) differs from the target's ({v_target}); "
                         "speculative decoding here needs a draft with the same tokenizer")


def set_draft_length(assistant_model, draft_tokens: int) -> None:
    """Make the draft propose exactly `draft_tokens` tokens per target call.

    transformers reads these from the draft's own `generation_config`. Its defaults (a heuristic
    schedule from 20 tokens and a confidence cut-off) suit GPUs, where a longer verification is
    nearly free; on a CPU the target's cost grows with the tokens it checks, and a fixed length
    measured for the draft at hand does better (docs/benchmarks.md).
    """
    if draft_tokens < 1:
        raise ValueError(f"draft_tokens must be >= 1, got {draft_tokens}")
    gen = assistant_model.generation_config
    gen.num_assistant_tokens = int(draft_tokens)
    gen.num_assistant_tokens_schedule = "constant"
    gen.assistant_confidence_threshold = 0.0


def generate_greedy(model, tokenizer, prompts: Sequence[Prompt], max_new_tokens: int,
                    assistant_model=None, chat: bool = True, draft_tokens: int | None = None,
                    batch_size: int = 1) -> tuple[list[str], list[list[int]], dict[str, Any]]:
    """Greedy continuation of each prompt: (texts, new token ids, stats).

    `batch_size` > 1 generates that many prompts at once (left-padded; not with a draft model): for
    evaluations that want the answers, not per-prompt timings.

    With `assistant_model`, transformers assisted generation uses it as the draft; `draft_tokens`
    fixes how many tokens it proposes per target call (`set_draft_length`), else the draft's own
    generation_config decides (transformers adapts it in place with its heuristic schedule).
    stats: prompts, new_tokens (generated tokens, end-of-turn included), seconds (inside `generate`),
    tokens_per_s, assisted.
    """
    if assistant_model is not None:
        _check_draft(model, assistant_model)
        assistant_model.eval()
        if draft_tokens is not None:
            set_draft_length(assistant_model, draft_tokens)
    model.eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if batch_size > 1 and assistant_model is None:
        texts, token_ids, seconds = _greedy_batches(model, tokenizer, prompts, max_new_tokens, chat, batch_size, pad_id)
    else:
        texts, token_ids, seconds = _greedy_one_by_one(model, tokenizer, prompts, max_new_tokens, chat, pad_id,
                                                       assistant_model)
    n_new = sum(len(t) for t in token_ids)
    stats = {"prompts": len(token_ids), "new_tokens": n_new, "seconds": seconds,
             "tokens_per_s": n_new / seconds if seconds > 0 else float("nan"),
             "assisted": assistant_model is not None}
    return texts, token_ids, stats


def left_padded(encoded: list[list[int]], pad_id: int):
    """(input_ids, attention_mask) of prompts padded on the left, as decoder-only batched generation needs."""
    import torch

    width = max(map(len, encoded))
    ids = torch.tensor([[pad_id] * (width - len(e)) + e for e in encoded], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded], dtype=torch.long)
    return ids, mask


def eos_token_ids(model, tokenizer) -> set[int]:
    """The tokens that end a generation: the model's generation config, else the tokenizer's end token."""
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    eos = eos if eos is not None else tokenizer.eos_token_id
    return set(eos) if isinstance(eos, (list, tuple)) else {eos} if eos is not None else set()


def _greedy_one_by_one(model, tokenizer, prompts: Sequence[Prompt], max_new_tokens: int, chat: bool, pad_id: int,
                       assistant_model=None) -> tuple[list[str], list[list[int]], float]:
    import torch

    texts, token_ids, seconds = [], [], 0.0
    for prompt in prompts:
        ids = torch.tensor([encode_prompt(tokenizer, prompt, chat)], dtype=torch.long)
        kwargs = dict(attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=max_new_tokens,
                      pad_token_id=pad_id, temperature=None, top_p=None, top_k=None)
        if assistant_model is not None:
            kwargs["assistant_model"] = assistant_model
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(ids, **kwargs)
        seconds += time.perf_counter() - start
        new = out[0, ids.shape[1]:].tolist()
        token_ids.append(new)
        texts.append(tokenizer.decode(new, skip_special_tokens=True))
    return texts, token_ids, seconds


def _greedy_batches(model, tokenizer, prompts: Sequence[Prompt], max_new_tokens: int, chat: bool, batch_size: int,
                    pad_id: int) -> tuple[list[str], list[list[int]], float]:
    import torch

    eos = eos_token_ids(model, tokenizer)
    texts, token_ids, seconds = [], [], 0.0
    for i in range(0, len(prompts), batch_size):
        ids, mask = left_padded([encode_prompt(tokenizer, p, chat) for p in prompts[i:i + batch_size]], pad_id)
        width = ids.shape[1]
        start = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=max_new_tokens,
                                 pad_token_id=pad_id, temperature=None, top_p=None, top_k=None)
        seconds += time.perf_counter() - start
        for row in out[:, width:].tolist():
            # a row that ended early is padded to the batch's length: it ends at its own end-of-turn token
            end = next((k + 1 for k, t in enumerate(row) if t in eos), len(row))
            token_ids.append(row[:end])
            texts.append(tokenizer.decode(row[:end], skip_special_tokens=True))
    return texts, token_ids, seconds


def acceptance_rate(target, draft, tokenizer, prompts: Sequence[Prompt], max_new_tokens: int,
                    num_draft_tokens: int = 5, chat: bool = True,
                    target_token_ids: list[list[int]] | None = None) -> dict[str, float]:
    """How often the draft's greedy token is the one the target would pick.

    Definition: along the target's own greedy continuation of each prompt (generated here, or given
    as `target_token_ids`), the draft reads the same prefix (one teacher-forced forward pass) and
    its greedy next token is compared with the target's. Under greedy verification a drafted token
    is accepted exactly when it equals the target's greedy token for the same prefix, and while
    drafts are accepted the draft's prefix is the target's, so

      acceptance_rate  = matching positions / all positions  (per-token acceptance probability)

    From the same match sequence, greedy speculative decoding with a fixed `num_draft_tokens` (k)
    is replayed: each target call accepts the matching run (at most k) and adds one token of its own.

      tokens_per_target_call = generated tokens / target forward passes  (the ideal speed-up when the
                               draft is free; transformers' default draft length is adaptive, so its
                               real count of calls can differ)
      mean_accepted_per_call = accepted draft tokens / target forward passes
    """
    import torch

    if target_token_ids is None:
        _, target_token_ids, _ = generate_greedy(target, tokenizer, prompts, max_new_tokens, chat=chat)
    if len(target_token_ids) != len(prompts):
        raise ValueError("target_token_ids needs one list of token ids per prompt")
    draft.eval()
    matched = positions = calls = accepted = 0
    for prompt, cont in zip(prompts, target_token_ids):
        if not cont:
            continue
        prompt_ids = encode_prompt(tokenizer, prompt, chat)
        ids = torch.tensor([prompt_ids + list(cont)[:-1]], dtype=torch.long)
        with torch.inference_mode():
            logits = draft(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
        preds = logits[len(prompt_ids) - 1:].argmax(-1).tolist()
        hits = [int(p == t) for p, t in zip(preds, cont)]
        matched += sum(hits)
        positions += len(hits)
        i = 0
        while i < len(hits):  # replay: accept the matching run (<= k), the target adds one token
            run = 0
            while run < num_draft_tokens and i + run < len(hits) and hits[i + run]:
                run += 1
            accepted += run
            calls += 1
            i += run + 1
    return {
        "acceptance_rate": matched / positions if positions else float("nan"),
        "positions": positions,
        "matched": matched,
        "num_draft_tokens": num_draft_tokens,
        "target_calls": calls,
        "tokens_per_target_call": positions / calls if calls else float("nan"),
        "mean_accepted_per_call": accepted / calls if calls else float("nan"),
    }
