"""Continuous batching: prompts that join a running batch between steps, and rows that leave it, each get
what plain greedy generation gives them alone."""

from __future__ import annotations

import pytest
import torch

from serving.bot.running_batch import RunningBatch
from serving.llm_runtime import encode_prompt, load_causal_lm

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_rows_that_join_and_leave_between_steps_decode_as_they_would_alone(tiny_llm):
    model, tok = load_causal_lm(tiny_llm)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    texts = ["hi", "tell me something about the history of jazz music", "what is two plus two", "ok",
             "the weather in paris tomorrow please, and also rome"]
    prompts = [encode_prompt(tok, t) for t in texts]
    budget = [10, 4, 10, 6, 8]  # rows leave at different steps, so the cache is cut while others run
    alone = []
    for prompt, n in zip(prompts, budget):
        ids = torch.tensor([prompt])
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n,
                                 min_new_tokens=n, pad_token_id=pad)
        alone.append(out[0, ids.shape[1]:].tolist())

    batch, order, got = RunningBatch(model, pad), [], {}

    def join(indices):
        for i, token in zip(indices, batch.join([prompts[i] for i in indices])):
            got[i] = [token]
        order.extend(indices)

    def step():
        for i, token in zip(order, batch.step()):
            got[i].append(token)
        keep = [k for k, i in enumerate(order) if len(got[i]) < budget[i]]
        batch.keep(keep)
        order[:] = [order[k] for k in keep]

    join([0, 1])
    for _ in range(2):
        step()
    join([2])  # a longer prompt joins rows that have already decoded
    step()
    join([3, 4])
    while len(batch):
        step()
    assert batch.cache is None and batch.mask is None
    assert [got[i] for i in range(len(texts))] == alone
    assert {len(g) for g in got.values()} == set(budget)


def test_a_prefill_computes_the_vocabulary_head_for_the_last_position_only(tiny_llm):
    model, tok = load_causal_lm(tiny_llm)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    rows = []
    hook = model.get_output_embeddings().register_forward_hook(lambda m, args, out: rows.append(out.shape[:-1]))
    try:
        batch = RunningBatch(model, pad)
        first = batch.join([encode_prompt(tok, "tell me something about the history of jazz"),
                            encode_prompt(tok, "hi")])
    finally:
        hook.remove()
    assert rows == [torch.Size([2, 1])]
    with torch.inference_mode():
        ids = torch.tensor([encode_prompt(tok, "hi")])
        assert first[1] == int(model(input_ids=ids).logits[0, -1].argmax())


def test_prompts_that_share_the_system_turn_are_prefilled_after_it_and_decode_as_they_would_alone(tiny_llm):
    from serving.bot.llm_stage import prompt_prefix

    model, tok = load_causal_lm(tiny_llm)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    system = "You are a helpful assistant for travel questions. Answer briefly."
    histories = [[], [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello, how can i help?"}]]
    texts = ["what is two plus two", "ok", "tell me something about the history of jazz music, in detail"]
    prompts = [encode_prompt(tok, [{"role": "system", "content": system}, *h, {"role": "user", "content": t}])
               for h in histories for t in texts]
    prefix = prompt_prefix(tok, system)
    assert len(prefix) > 10 and all(p[:len(prefix)] == prefix for p in prompts)
    assert tok.decode(prefix).count(system) == 1
    n = 6
    alone = []
    for prompt in prompts:
        ids = torch.tensor([prompt])
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n,
                                 min_new_tokens=n, pad_token_id=pad)
        alone.append(out[0, ids.shape[1]:].tolist())

    def run(prefix):
        """The rows' tokens, each call's logits, and the lengths the model read, with or without the prefix."""
        lengths, logits = [], []
        hooks = [model.get_input_embeddings().register_forward_hook(lambda m, a, out: lengths.append(out.shape[1])),
                 model.get_output_embeddings().register_forward_hook(lambda m, a, out: logits.append(out[:, -1]))]
        try:
            batch, got = RunningBatch(model, pad, prefix), []
            for token in batch.join(prompts[:2]):
                got.append([token])
            for _ in range(2):
                for row, token in zip(got, batch.step()):
                    row.append(token)
            for token in batch.join(prompts[2:]):  # they join rows that have decoded, whose caches hold the prefix too
                got.append([token])
            while len(got[-1]) < n:
                for row, token in zip(got, batch.step()):
                    if len(row) < n:
                        row.append(token)
        finally:
            for hook in hooks:
                hook.remove()
        return got, logits, lengths

    got, logits, lengths = run(prefix)
    whole_got, whole_logits, whole_lengths = run(None)
    assert got == whole_got == alone
    # the same numbers, not only the same argmax (a tiny random model's greedy tokens forgive a lot)
    assert len(logits) == len(whole_logits) + 1  # the prefix's own pass, once
    for a, b in zip(logits[1:], whole_logits):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # the prefix once (one row of its length), then each join reads only the longest rest of its prompts
    assert lengths[0] == len(prefix)
    assert lengths[1] == max(len(p) for p in prompts[:2]) - len(prefix)
    assert whole_lengths[0] == max(len(p) for p in prompts[:2])


def test_a_prompt_without_the_prefix_is_prefilled_whole(tiny_llm):
    model, tok = load_causal_lm(tiny_llm)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    other = encode_prompt(tok, "what is two plus two")
    batch = RunningBatch(model, pad, prefix=encode_prompt(tok, [{"role": "system", "content": "be brief"},
                                                                {"role": "user", "content": "x"}])[:-3])
    with torch.inference_mode():
        expected = int(model(input_ids=torch.tensor([other])).logits[0, -1].argmax())
    assert batch.join([other]) == [expected]
    assert batch._prefix_layers is None
