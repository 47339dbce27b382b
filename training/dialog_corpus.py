"""Domain dialogs for distillation and LLM evaluation: user turns from the intent data, replies
written by the teacher with its chat template (greedy, batched)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .fileio import atomic_dir

SYSTEM_PROMPT = (
    "You are convbot, a friendly assistant for travel, account, billing and everyday tasks. "
    "Answer in one to three short sentences."
)
SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class DialogCorpusConfig:
    per_intent: int = 6
    heldout_fraction: float = 0.25
    max_new_tokens: int = 64
    # greedy replies do not depend on the batch (left padding, masked); on 2 cores a batch of 48 wrote 48 replies
    # 2.5x sooner than batches of 8, word for word the same (by hand, the packaged teacher)
    batch_size: int = 48
    seed: int = 11


def sample_user_turns(frame, per_intent: int, seed: int) -> list[dict]:
    """Up to `per_intent` utterances per intent, from a frame with `text` and `intent` columns."""
    rng = random.Random(seed)
    turns = []
    for intent, rows in sorted(frame.groupby("intent"), key=lambda kv: kv[0]):
        rows = rows.sort_values("text")
        groups = rows["group"].tolist() if "group" in rows else rows["text"].tolist()
        picked = rng.sample(range(len(rows)), min(per_intent, len(rows)))
        turns += [{"intent": intent, "user": rows["text"].iloc[i], "group": groups[i]} for i in picked]
    return turns


def messages_for(user: str, reply: str | None = None) -> list[dict]:
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
    return msgs + ([{"role": "assistant", "content": reply}] if reply is not None else [])


def teacher_replies(teacher_dir: str | Path, users: list[str], cfg: DialogCorpusConfig) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(teacher_dir, dtype=torch.float32).eval()
    replies = []
    for start in tqdm(range(0, len(users), cfg.batch_size), desc="teacher replies", unit="batch"):
        batch = users[start : start + cfg.batch_size]
        prompts = [tokenizer.apply_chat_template(messages_for(u), tokenize=False, add_generation_prompt=True)
                   for u in batch]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, do_sample=False, max_new_tokens=cfg.max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id)
        replies += [t.strip() for t in tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)]
    return replies


def build_corpus(turns: list[dict], replies: list[str], cfg: DialogCorpusConfig) -> dict[str, list[dict]]:
    """Records {"intent", "group", "messages"}; empty replies are dropped; a held-out split stratified by
    intent that keeps each group (the template a user turn came from) on one side."""
    rng = random.Random(cfg.seed)
    by_intent: dict[str, dict[str, list[dict]]] = {}
    for turn, reply in zip(turns, replies, strict=True):
        if reply:
            group = turn.get("group", turn["user"])
            by_intent.setdefault(turn["intent"], {}).setdefault(group, []).append(
                {"intent": turn["intent"], "group": group, "messages": messages_for(turn["user"], reply)})
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for intent in sorted(by_intent):
        groups = [by_intent[intent][g] for g in sorted(by_intent[intent])]
        rng.shuffle(groups)
        target = len(sum(groups, [])) * cfg.heldout_fraction if len(groups) > 1 else 0
        held = 0
        for records in groups:
            side = "heldout" if held < target and held + len(records) <= max(2 * target, 1) else "train"
            held += len(records) if side == "heldout" else 0
            out[side] += records
    return out


def write_corpus(corpus: dict[str, list[dict]], out_dir: str | Path, card: dict) -> Path:
    with atomic_dir(out_dir) as tmp:
        for split, records in corpus.items():
            (tmp / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        (tmp / "corpus_card.json").write_text(json.dumps(card, indent=2, sort_keys=True, default=str))
    return Path(out_dir)


def read_corpus(corpus_dir: str | Path, split: str) -> list[dict]:
    path = Path(corpus_dir) / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
