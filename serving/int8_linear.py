"""Weight-only int8 Linear layers for CPU inference, and the folder format that stores them.

Each weight row is stored as int8 with one scale (symmetric, per output channel, [-127, 127]). The
activations are not quantized: the matmul runs in bf16 through `torch._weight_int8pack_mm`, the CPU
kernel behind torchao's int8 weight-only path, which reads 4x fewer weight bytes than fp32 -- what
limits batch-1 decoding. That kernel works a row of activations at a time, so a prompt's prefill (tens of
rows) runs instead as a bf16 GEMM over the int8 weights converted a block at a time (exactly: an int8 value
is a bf16 value), scaled after: faster from about 16 rows (`GEMM_FROM_ROWS`), slower below; the prefill
benchmark in docs/benchmarks.md times it. On SmolLM2-135M this keeps perplexity within ~1% of fp32, where torch's
dynamic int8 (8-bit, on x86 7-bit, per-tensor activations) more than doubles it (docs/benchmarks.md).

Folder layout (`training.quantize.quantize_int8` writes it, `serving.llm_runtime.load_causal_lm` reads it):

    config.json, generation_config.json, tokenizer files   (as `save_pretrained` writes them)
    int8_model.safetensors                                  (the state_dict: int8 weights + bf16 scales)
    convbot_quant.json                                      (method, quantized module names, checksums,
                                                             Linear weight bytes before and after)
"""

from __future__ import annotations

import torch
from torch import nn

QUANT_INFO = "convbot_quant.json"
INT8_STATE = "int8_model.safetensors"
METHOD = "int8-weight-only/per-channel-symmetric (bf16 matmul, torch._weight_int8pack_mm)"
_HAS_KERNEL = hasattr(torch, "_weight_int8pack_mm")
# From this many activation rows the bf16 GEMM path is taken. Decode steps (a row per sequence, up to the
# running batch's 8) and speculative verification (draft tokens + 1, batch 1) stay below it, so both keep
# the int8 kernel and agree with each other as before.
GEMM_FROM_ROWS = 16
_GEMM_BLOCK = 4096  # output features converted to bf16 at a time: the vocabulary head's 49k x 576 would be 56 MB


class Int8WeightOnlyLinear(nn.Module):
    """y = x W^T + b with W held as int8 rows times a per-row scale."""

    def __init__(self, in_features: int, out_features: int, bias: bool):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight_int8", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("scale", torch.ones(out_features, dtype=torch.bfloat16))
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "Int8WeightOnlyLinear":
        module = cls(linear.in_features, linear.out_features, linear.bias is not None)
        w = linear.weight.detach().float()
        scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-8)
        module.weight_int8.copy_(torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8))
        module.scale.copy_(scale.to(torch.bfloat16))
        if linear.bias is not None:
            module.bias.data.copy_(linear.bias.detach().float())
        return module

    def dequantized_weight(self) -> torch.Tensor:
        return self.weight_int8.float() * self.scale.float()[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        if _HAS_KERNEL and flat.device.type == "cpu" and flat.shape[0] >= GEMM_FROM_ROWS:
            y = self._bf16_gemm(flat.to(torch.bfloat16)).to(x.dtype)
        elif _HAS_KERNEL and flat.device.type == "cpu":
            y = torch._weight_int8pack_mm(flat.to(torch.bfloat16), self.weight_int8, self.scale).to(x.dtype)
        else:  # other devices / builds: dequantize (correct, not faster)
            y = flat @ self.dequantized_weight().to(x.dtype).T
        y = y.reshape(*shape[:-1], self.out_features)
        return y + self.bias.to(y.dtype) if self.bias is not None else y

    def _bf16_gemm(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale.float()
        blocks = [torch.mm(x, self.weight_int8[i:i + _GEMM_BLOCK].to(torch.bfloat16).t()).float()
                  .mul_(scale[i:i + _GEMM_BLOCK]) for i in range(0, self.out_features, _GEMM_BLOCK)]
        return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=1)

    def weight_bytes(self) -> int:
        return self.weight_int8.numel() * self.weight_int8.element_size() + self.scale.numel() * self.scale.element_size()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def replace_linears(model: nn.Module, names: list[str], from_weights: bool) -> nn.Module:
    """Swap the named nn.Linear modules for Int8WeightOnlyLinear, in place.

    `from_weights`: quantize the existing fp32 weights; else empty modules that a state_dict fills.
    """
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        linear = getattr(parent, child)
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"{name} is a {type(linear).__name__}, not an nn.Linear")
        new = (Int8WeightOnlyLinear.from_linear(linear) if from_weights
               else Int8WeightOnlyLinear(linear.in_features, linear.out_features, linear.bias is not None))
        setattr(parent, child, new)
    return model
