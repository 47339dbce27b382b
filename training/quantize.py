"""Post-training int8 quantization of a causal LM's Linear weights for CPU serving.

Weight-only, per output channel, symmetric: see `serving.int8_linear` for the layer, the kernel and
why activations stay in bf16 (torch's dynamic int8 quantizes activations too and doubles
SmolLM2-135M's perplexity). Embeddings and norms stay fp32. A quantized model is not
`save_pretrained`-able, so the folder holds the config and tokenizer as `save_pretrained` writes
them, the state_dict as safetensors, and `convbot_quant.json`; `serving.llm_runtime.load_causal_lm`
rebuilds the model from the config and loads it, without this module.
On a GPU, bitsandbytes 8-bit (`BitsAndBytesConfig(load_in_8bit=True)`) is the usual choice instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from serving.int8_linear import INT8_STATE, METHOD, QUANT_INFO, Int8WeightOnlyLinear, replace_linears

from .fileio import atomic_dir, sha256_dir, sha256_file

__all__ = ["INT8_STATE", "QUANT_INFO", "linear_module_names", "linear_weight_bytes", "quantize_int8"]


def linear_weight_bytes(model) -> int:
    """Bytes held by Linear weights: float nn.Linear weights, or int8 weights plus their scales.

    Biases and non-Linear weights (embeddings, norms) are not counted; a weight shared by two
    Linears (tied) counts once.
    """
    import torch

    seen: set[int] = set()
    total = 0
    for module in model.modules():
        if isinstance(module, Int8WeightOnlyLinear):
            total += module.weight_bytes()
        elif isinstance(module, torch.nn.Linear) and module.weight.data_ptr() not in seen:
            seen.add(module.weight.data_ptr())
            total += module.weight.numel() * module.weight.element_size()
    return total


def linear_module_names(model, include_lm_head: bool = True) -> list[str]:
    import torch

    out = model.get_output_embeddings()
    return [name for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and (include_lm_head or m is not out)]


def quantize_int8(model_dir: str | os.PathLike, out_dir: str | os.PathLike, include_lm_head: bool = True) -> Path:
    """int8 weight-only quantization of every Linear of the causal LM in `model_dir`, written atomically."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    names = linear_module_names(model, include_lm_head)
    before = linear_weight_bytes(model)
    replace_linears(model, names, from_weights=True)
    after = linear_weight_bytes(model)
    # safetensors refuses shared tensors: a tied lm_head left in fp32 is stored as its own copy
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        model.config.save_pretrained(tmp)
        if model.generation_config is not None:
            model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_file(state, tmp / INT8_STATE, metadata={"format": "pt"})
        info = {
            "method": METHOD,
            "quantized_modules": names,
            "source": str(Path(model_dir).resolve()),
            "source_checksum": sha256_dir(model_dir, "*.safetensors"),
            "state_dict_sha256": sha256_file(tmp / INT8_STATE),
            "linear_weight_bytes_fp32": before,
            "linear_weight_bytes_int8": after,
            "linear_compression": before / after if after else None,
            "torch_version": torch.__version__,
        }
        (tmp / QUANT_INFO).write_text(json.dumps(info, indent=2))
    return out_dir
