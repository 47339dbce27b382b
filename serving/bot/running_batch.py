"""Continuous batching for greedy decoding: prompts join a running batch between decode steps.

With whole-batch generation a turn that arrives while a batch runs waits for every token of that batch
before its own prompt is even read; under load its time to first token is that queue. Here the rows of
a running batch share one KV cache (left-padded, as batched generation needs), a new prompt is prefilled
on its own and its cache joins the batch at the next step, and a finished row leaves at once. Greedy
decoding over left-padded rows with their own position ids gives each row what it gets alone: exactly in
fp32; in bf16 (the int8 model's matmuls) the batch's shape moves the last bits, and a near tie can go the
other way, as with any batched generation.

Every prompt of the bot starts with the same tokens: the chat template's system turn. Their keys and values
are computed once (`prefix`) and each prefill reads only what follows, as vLLM's and SGLang's prefix caches do;
with the shipped system prompt and SmolLM2's template that is 41 tokens, of a median 56 for one CLINC150
out-of-scope question.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from serving.llm_runtime import left_padded


class RunningBatch:
    """The KV cache, attention mask and last token of each running row; rows are addressed by position."""

    def __init__(self, model, pad_id: int, prefix: list[int] | None = None):
        self.model, self.pad_id = model, pad_id
        self.prefix = list(prefix or [])  # token ids every prompt is expected to start with
        self._prefix_layers: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # their keys and values, one row
        self.cache = None  # transformers DynamicCache over the rows
        self.mask: torch.Tensor | None = None  # (rows, length): 1 where a cached position is a real token
        self.last: torch.Tensor | None = None  # (rows,): the token each row feeds next

    def __len__(self) -> int:
        return 0 if self.last is None else int(self.last.shape[0])

    @torch.inference_mode()
    def join(self, prompts: list[list[int]]) -> list[int]:
        """Prefill the prompts (token ids) and add them to the batch; returns each one's first token."""
        n = len(self.prefix)
        if n and all(len(p) > n and p[:n] == self.prefix for p in prompts):
            # the rows are [prefix | left padding | rest]: the mask's hole and the position ids keep each row
            # what it is alone
            ids, rest_mask = left_padded([p[n:] for p in prompts], self.pad_id)
            mask = torch.cat([torch.ones(len(prompts), n, dtype=rest_mask.dtype), rest_mask], dim=1)
            past = _cache([(k.expand(len(prompts), -1, -1, -1).contiguous(), v.expand(len(prompts), -1, -1, -1).contiguous())
                           for k, v in self._prefix()])
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask)[:, n:],
                             past_key_values=past, use_cache=True, **_last_logits_only(self.model))
        else:
            ids, mask = left_padded(prompts, self.pad_id)
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask), use_cache=True,
                             **_last_logits_only(self.model))
        first = out.logits[:, -1].argmax(-1)
        if self.cache is None:
            self.cache, self.mask, self.last = out.past_key_values, mask, first
        else:
            width = max(self.mask.shape[1], mask.shape[1])
            self.cache = _cache([(torch.cat([_left(k, width), _left(k2, width)]),
                                  torch.cat([_left(v, width), _left(v2, width)]))
                                 for (k, v), (k2, v2) in zip(_layers(self.cache), _layers(out.past_key_values))])
            self.mask = torch.cat([_left_mask(self.mask, width), _left_mask(mask, width)])
            self.last = torch.cat([self.last, first])
        return first.tolist()

    def _prefix(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if self._prefix_layers is None:
            ids = torch.tensor([self.prefix])
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True,
                             **_last_logits_only(self.model))
            self._prefix_layers = _layers(out.past_key_values)
        return self._prefix_layers

    @torch.inference_mode()
    def step(self) -> list[int]:
        """One decode step for every row; returns each row's next token."""
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        out = self.model(input_ids=self.last[:, None], attention_mask=self.mask,
                         position_ids=self.mask.sum(-1, keepdim=True) - 1, past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        self.last = out.logits[:, -1].argmax(-1)
        return self.last.tolist()

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows (in this order); drop the padding no remaining row needs."""
        if not rows:
            self.cache = self.mask = self.last = None
            return
        index = torch.tensor(rows, dtype=torch.long)
        mask = self.mask[index]
        start = int(mask.any(0).nonzero()[0])  # columns before it are padding for every remaining row
        self.cache = _cache([(k[index, :, start:], v[index, :, start:]) for k, v in _layers(self.cache)])
        self.mask, self.last = mask[:, start:], self.last[index]


def _last_logits_only(model) -> dict:
    """Only the last position's logits are read after a prefill; `generate` asks for no more either. The
    vocabulary head over every prompt position was a quarter of a 56-token prefill of SmolLM2-135M in int8. A
    model whose forward does not take the argument computes them all, as before."""
    forward = getattr(model, "forward", None)
    accepts = forward is not None and "logits_to_keep" in inspect.signature(forward).parameters
    return {"logits_to_keep": 1} if accepts else {}


def _positions(mask: torch.Tensor) -> torch.Tensor:
    return (mask.cumsum(-1) - 1).clamp(min=0)


def _left(x: torch.Tensor, width: int) -> torch.Tensor:
    return F.pad(x, (0, 0, width - x.shape[2], 0))  # (batch, heads, length, dim): zeros on the left of length


def _left_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    return F.pad(mask, (width - mask.shape[1], 0))


def _layers(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _cache(layers: list[tuple[torch.Tensor, torch.Tensor]]) -> DynamicCache:
    return DynamicCache(layers)
