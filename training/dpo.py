"""DPO on user corrections: a LoRA adapter on the base LLM, trained with TRL's `DPOTrainer`.

A straight line: pairs -> tokenizer -> base model -> `DPOTrainer(peft_config=LoraConfig)` -> train
(resuming from the last checkpoint) -> save the adapter (PEFT `save_pretrained`, with the base it
belongs to) -> evaluate. With a PEFT adapter the reference model is the base with the adapter
switched off, so no second copy of the model is held.

`preference_accuracy` is the held-out metric: DPO's implicit reward of a completion y for prompt x is
beta * (log p_policy(y|x) - log p_ref(y|x)); a pair counts as right when the chosen completion's
reward is above the rejected one's.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .checkpoints import manifest_callback, resume_point
from .errors import DataValidationError
from .fileio import atomic_dir, sha256_dir
from .intent_trainer import MetricsForwarder, load_training_args

log = logging.getLogger(__name__)

ADAPTER_INFO = "convbot_adapter.json"


@dataclass(frozen=True)
class DpoRunConfig:
    recipe: str = "configs/recipes/dpo_adapter.yaml"
    overrides: dict[str, Any] = field(default_factory=dict)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class DpoOutcome:
    adapter_dir: Path
    log_history: list[dict]
    validation: dict[str, float]
    resumed_from: str | None
    training_args: dict
    n_train: int
    n_eval: int


def _dataset(pairs: list[dict], name: str):
    from datasets import Dataset

    if not pairs:
        raise DataValidationError(name, None, None, "no preference pairs")
    for i, p in enumerate(pairs):
        for key in ("prompt", "chosen", "rejected"):
            if not isinstance(p.get(key), list) or not p[key]:
                raise DataValidationError(name, i, key, "must be a non-empty list of messages")
    return Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])


def train_dpo_adapter(base_dir: str | os.PathLike, train_pairs: list[dict], eval_pairs: list[dict],
                      work_dir: str | os.PathLike, cfg: DpoRunConfig = DpoRunConfig(),
                      metrics_sink: Callable[[dict[str, float], int], None] | None = None) -> DpoOutcome:
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    work_dir = Path(work_dir)
    train, evals = _dataset(train_pairs, "train pairs"), _dataset(eval_pairs, "eval pairs")
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    args = load_training_args(cfg.recipe, work_dir / "checkpoints", cfg.overrides, args_class=DPOConfig)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")
    callbacks = [manifest_callback()] + ([MetricsForwarder(metrics_sink).callback] if metrics_sink is not None else [])
    trainer = DPOTrainer(model=model, args=args, train_dataset=train, eval_dataset=evals,
                         processing_class=tokenizer, peft_config=lora, callbacks=callbacks)
    last = resume_point(args.output_dir)
    if last:
        log.info("resuming DPO from %s", last)
    trainer.train(resume_from_checkpoint=last)
    validation = {k: float(v) for k, v in trainer.evaluate().items() if isinstance(v, (int, float))}

    adapter_dir = work_dir / "adapter"
    with atomic_dir(adapter_dir) as tmp:
        trainer.model.save_pretrained(tmp)  # adapter_config.json + adapter_model.safetensors only
        tokenizer.save_pretrained(tmp)
        (tmp / ADAPTER_INFO).write_text(json.dumps({
            "base": str(Path(base_dir).resolve()), "base_checksum": sha256_dir(base_dir, "*.safetensors"),
            "config": asdict(cfg), "beta": args.beta, "n_train": len(train), "n_eval": len(evals),
            "validation": validation}, indent=2, default=str))
    return DpoOutcome(adapter_dir, list(trainer.state.log_history), validation, last, args.to_dict(),
                      len(train), len(evals))


def load_policy(base_dir: str | os.PathLike, adapter_dir: str | os.PathLike):
    """(PeftModel, tokenizer): the base with the adapter; `with model.disable_adapter():` gives the reference."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    return PeftModel.from_pretrained(base, adapter_dir).eval(), AutoTokenizer.from_pretrained(adapter_dir)


def merge_adapter(base_dir: str | os.PathLike, adapter_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """The base with the adapter folded into its weights: a plain `save_pretrained` model for serving."""
    model, tokenizer = load_policy(base_dir, adapter_dir)
    merged = model.merge_and_unload()
    with atomic_dir(out_dir) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)


def _completion_logprob(model, tokenizer, prompt: list[dict], completion: list[dict], max_length: int) -> float:
    import torch

    prompt_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full_text = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    ids = tokenizer(full_text, add_special_tokens=False)["input_ids"][:max_length]
    if len(ids) <= len(prompt_ids):
        raise ValueError(f"max_length {max_length} leaves no completion token after a {len(prompt_ids)}-token prompt "
                         f"({prompt[-1]['content'][:60]!r}): raise max_length")
    x = torch.tensor([ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=x).logits[0, :-1].float(), dim=-1)
    targets = x[0, 1:]
    token_logp = logp.gather(1, targets[:, None])[:, 0]
    return float(token_logp[len(prompt_ids) - 1:].sum())


def implicit_rewards(model, tokenizer, pairs: list[dict], beta: float, max_length: int = 256) -> list[tuple[float, float]]:
    """[(reward(chosen), reward(rejected))] for a PeftModel policy against its adapter-free base."""
    policy = [(_completion_logprob(model, tokenizer, p["prompt"], p["chosen"], max_length),
               _completion_logprob(model, tokenizer, p["prompt"], p["rejected"], max_length)) for p in pairs]
    with model.disable_adapter():
        ref = [(_completion_logprob(model, tokenizer, p["prompt"], p["chosen"], max_length),
                _completion_logprob(model, tokenizer, p["prompt"], p["rejected"], max_length)) for p in pairs]
    return [(beta * (pc - rc), beta * (pr - rr)) for (pc, pr), (rc, rr) in zip(policy, ref)]


def preference_accuracy(rewards: list[tuple[float, float]]) -> float:
    if not rewards:
        raise ValueError("no pairs to score")
    return sum(c > r for c, r in rewards) / len(rewards)
