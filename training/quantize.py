"""Post-training dynamic int8 quantization of a causal LM's Linear layers (torch eager mode, CPU).

`torch.ao.quantization.quantize_dynamic` stores every nn.Linear weight as int8 (per output channel
by default, or per tensor) and quantizes activations on the fly; embeddings and norms stay fp32.
A quantized model cannot go through `save_pretrained`, so the output folder holds

    config.json, generation_config.json, tokenizer files   (as `save_pretrained` writes them)
    int8_state_dict.pt                                      (torch.save of the quantized state_dict)
    convbot_quant.json                                      (method, quantized module names, checksums,
                                                             Linear weight bytes before and after)

and `serving.llm_runtime.load_causal_lm` rebuilds it: model from config, the same quantize_dynamic
on the recorded modules, then load_state_dict. The names below are mirrored there (serving must
not import training); a test keeps them equal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .fileio import atomic_dir, sha256_dir, sha256_file

QUANT_INFO = "convbot_quant.json"
INT8_STATE = "int8_state_dict.pt"
METHOD = "torch.ao.quantization.quantize_dynamic/qint8"


def linear_weight_bytes(model) -> int:
    """Bytes held by Linear weights: fp32 (or any float) nn.Linear and dynamic-quantized int8 Linear.

    For int8 modules this counts the int8 payload plus per-channel scales and zero points; biases and
    non-Linear weights (embeddings, norms) are not counted. A weight shared by two Linears counts once.
    """
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear

    seen: set[int] = set()
    total = 0
    for module in model.modules():
        if isinstance(module, DynamicQuantizedLinear):
            w = module.weight()
            total += w.numel() * w.element_size()
            if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                total += w.q_per_channel_scales().numel() * w.q_per_channel_scales().element_size()
                total += w.q_per_channel_zero_points().numel() * w.q_per_channel_zero_points().element_size()
        elif isinstance(module, torch.nn.Linear):
            w = module.weight
            if w.data_ptr() not in seen:
                seen.add(w.data_ptr())
                total += w.numel() * w.element_size()
    return total


def linear_module_names(model, include_lm_head: bool = True) -> list[str]:
    import torch

    out = model.get_output_embeddings()
    return [name for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and (include_lm_head or m is not out)]


def quantize_linear_int8(model, module_names: list[str], per_channel: bool = True):
    """`quantize_dynamic` on exactly `module_names` (a copy; the input model is left alone)."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    return quantize_dynamic(model, {name: qconfig for name in module_names}, dtype=torch.qint8)


def quantize_int8(model_dir: str | os.PathLike, out_dir: str | os.PathLike, per_channel: bool = True,
                  include_lm_head: bool = True) -> Path:
    """Dynamic int8 quantization of every Linear of the causal LM in `model_dir`, written atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    names = linear_module_names(model, include_lm_head)
    before = linear_weight_bytes(model)
    qmodel = quantize_linear_int8(model, names, per_channel)
    after = linear_weight_bytes(qmodel)

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        model.config.save_pretrained(tmp)
        if model.generation_config is not None:
            model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        torch.save(qmodel.state_dict(), tmp / INT8_STATE)
        info = {
            "method": METHOD,
            "qscheme": "per_channel_affine" if per_channel else "per_tensor_affine",
            "quantized_modules": names,
            "source": str(Path(model_dir).resolve()),
            "source_checksum": sha256_dir(model_dir, "*.safetensors"),
            "state_dict_sha256": sha256_file(tmp / INT8_STATE),
            "linear_weight_bytes_fp32": before,
            "linear_weight_bytes_int8": after,
            "linear_compression": before / after if after else None,
            "torch_version": torch.__version__,
            "quantized_engine": torch.backends.quantized.engine,
        }
        (tmp / QUANT_INFO).write_text(json.dumps(info, indent=2))
    return out_dir
