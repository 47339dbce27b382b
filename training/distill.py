"""Distil the teacher LLM into a smaller student of the same family and tokenizer.

A straight line: check that teacher and student share a tokenizer, tokenize the dialogs (loss on
the final assistant reply only), build a frozen teacher and the student, train with
`DistillationTrainer` (resuming from the last checkpoint), save the student with the config that
built it, evaluate.

The loss on every response token is

    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels)

The first term is token-level KD (match the teacher's whole next-token distribution); the second
is sequence-level KD when the labels are replies the teacher wrote itself (the dialog corpus).
The T^2 factor keeps the KL gradients on the same scale as the CE gradients when T changes
(Hinton et al., 2015).

The student starts from the teacher: same config with fewer decoder layers, copying the
embeddings, final norm, lm_head and a chosen subset of decoder layers (`spread_layers`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .checkpoints import manifest_callback, resume_point
from .errors import ConvbotError, DataValidationError
from .fileio import atomic_dir, replace_dir, sha256_dir
from .intent_trainer import MetricsForwarder, load_training_args

log = logging.getLogger(__name__)

STUDENT_INFO = "convbot_student.json"
TRAIN_INFO = "convbot_train.json"
IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant")
_LAYER_KEY = re.compile(r"^(.*\.layers\.)(\d+)(\..*)$")


class TokenizerMismatchError(ConvbotError):
    """Teacher and student do not share a tokenizer, so their logits cannot be compared."""


# --------------------------------------------------------------------------------------- tokenizers


def _special_tokens(tokenizer) -> dict[str, tuple[str | None, int | None]]:
    out: dict[str, tuple[str | None, int | None]] = {}
    for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
        tok = getattr(tokenizer, name, None)
        out[name] = (tok, tokenizer.convert_tokens_to_ids(tok) if tok is not None else None)
    for tok in sorted(set(tokenizer.all_special_tokens)):
        out[f"special:{tok}"] = (tok, tokenizer.convert_tokens_to_ids(tok))
    return out


def tokenizer_differences(teacher_tok, student_tok, sample: int = 5) -> list[str]:
    """Human-readable differences between two tokenizers' vocabularies and special tokens."""
    problems: list[str] = []
    tv, sv = teacher_tok.get_vocab(), student_tok.get_vocab()
    if len(tv) != len(sv):
        problems.append(f"vocab size {len(tv)} (teacher) vs {len(sv)} (student)")
    only_t = sorted(set(tv) - set(sv), key=lambda t: tv[t])
    only_s = sorted(set(sv) - set(tv), key=lambda t: sv[t])
    if only_t:
        problems.append(f"{len(only_t)} token(s) only in the teacher, e.g. "
                        + ", ".join(f"{t!r}={tv[t]}" for t in only_t[:sample]))
    if only_s:
        problems.append(f"{len(only_s)} token(s) only in the student, e.g. "
                        + ", ".join(f"{t!r}={sv[t]}" for t in only_s[:sample]))
    moved = sorted((t for t in set(tv) & set(sv) if tv[t] != sv[t]), key=lambda t: tv[t])
    if moved:
        problems.append(f"{len(moved)} token(s) with different ids, e.g. "
                        + ", ".join(f"{t!r}: {tv[t]} vs {sv[t]}" for t in moved[:sample]))
    ts, ss = _special_tokens(teacher_tok), _special_tokens(student_tok)
    diff = sorted(k for k in set(ts) | set(ss) if ts.get(k) != ss.get(k))
    if diff:
        problems.append("special tokens differ: "
                        + "; ".join(f"{k}: {ts.get(k)} vs {ss.get(k)}" for k in diff[:sample]))
    return problems


def check_same_tokenizer(teacher_dir: str | os.PathLike, student_dir: str | os.PathLike) -> None:
    """Raise `TokenizerMismatchError` unless vocabularies and special tokens are identical."""
    from transformers import AutoTokenizer

    teacher_tok = AutoTokenizer.from_pretrained(teacher_dir)
    student_tok = AutoTokenizer.from_pretrained(student_dir)
    problems = tokenizer_differences(teacher_tok, student_tok)
    if problems:
        raise TokenizerMismatchError(
            f"teacher {teacher_dir} and student {student_dir} do not share a tokenizer: "
            + "; ".join(problems)
            + ". Distillation compares next-token distributions token by token, so the student must "
              "use the teacher's tokenizer (build it with init_student_from_teacher).")
    if getattr(teacher_tok, "chat_template", None) != getattr(student_tok, "chat_template", None):
        log.warning("teacher %s and student %s have different chat templates; the teacher's is used "
                    "to build the training data", teacher_dir, student_dir)


# ------------------------------------------------------------------------------------------ student


def spread_layers(n_teacher: int, n_student: int) -> list[int]:
    """`n_student` evenly spaced teacher layer indices, always the first and the last."""
    if not 1 <= n_student <= n_teacher:
        raise ValueError(f"a student needs between 1 and {n_teacher} layers, not {n_student}")
    if n_student == 1:
        return [0]
    return [round(i * (n_teacher - 1) / (n_student - 1)) for i in range(n_student)]


def init_student_from_teacher(teacher_dir: str | os.PathLike, out_dir: str | os.PathLike,
                              layers: list[int]) -> Path:
    """A student with the teacher's config but only `layers` (teacher indices, increasing).

    Embeddings, final norm and lm_head are copied; student layer i is teacher layer layers[i].
    Written atomically with the teacher's tokenizer (and chat template) and `convbot_student.json`.
    """
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    teacher = AutoModelForCausalLM.from_pretrained(teacher_dir, dtype=torch.float32)
    n_teacher = teacher.config.num_hidden_layers
    layers = [int(i) for i in layers]
    if not layers or any(b <= a for a, b in zip(layers, layers[1:])) or layers[0] < 0 or layers[-1] >= n_teacher:
        raise ValueError(f"layers must be strictly increasing indices in [0, {n_teacher}), got {layers}")

    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(layers)
    layer_types = getattr(config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) == n_teacher:
        config.layer_types = [layer_types[i] for i in layers]  # per-layer attention kinds (sliding, full)
    student = type(teacher)(config).to(torch.float32)

    teacher_sd = teacher.state_dict()
    mapped, seen_layers = {}, set()
    for key in student.state_dict():
        m = _LAYER_KEY.match(key)
        if m:
            seen_layers.add(int(m.group(2)))
            src = f"{m.group(1)}{layers[int(m.group(2))]}{m.group(3)}"
        else:
            src = key
        if src not in teacher_sd:
            raise ConvbotError(f"cannot initialise the student from {teacher_dir}: the teacher has no weight "
                               f"'{src}' for the student's '{key}' (is it a Llama-style decoder?)")
        mapped[key] = teacher_sd[src]
    if seen_layers != set(range(len(layers))):
        raise ConvbotError(f"cannot find the decoder layers of {type(teacher).__name__} in its weights")
    student.load_state_dict(mapped, strict=True)
    student.generation_config = copy.deepcopy(teacher.generation_config)

    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    info = {
        "teacher": str(Path(teacher_dir).resolve()),
        "teacher_checksum": sha256_dir(teacher_dir, "*.safetensors"),
        "teacher_layers": n_teacher,
        "student_layers": len(layers),
        "layer_map": {str(i): t for i, t in enumerate(layers)},  # student index -> teacher index
    }
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        student.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / STUDENT_INFO).write_text(json.dumps(info, indent=2))
    return out_dir


# ---------------------------------------------------------------------------------------------- data


def _check_record(record: Any, index: int, source: str) -> list[dict]:
    def bad(field_: str | None, reason: str) -> DataValidationError:
        return DataValidationError(source, index, field_, reason)

    if not isinstance(record, dict):
        raise bad(None, f"a record must be an object with 'messages', got {type(record).__name__}")
    msgs = record.get("messages")
    if not isinstance(msgs, list) or len(msgs) < 2:
        raise bad("messages", "must be a list of at least two messages (a prompt and the assistant reply)")
    for j, msg in enumerate(msgs):
        if not isinstance(msg, dict):
            raise bad(f"messages[{j}]", f"must be an object with 'role' and 'content', got {type(msg).__name__}")
        if msg.get("role") not in ROLES:
            raise bad(f"messages[{j}].role", f"must be one of {', '.join(ROLES)}, got {msg.get('role')!r}")
        if not isinstance(msg.get("content"), str):
            raise bad(f"messages[{j}].content", f"must be a string, got {type(msg.get('content')).__name__}")
    if msgs[-1]["role"] != "assistant":
        raise bad(f"messages[{len(msgs) - 1}].role", "the last message must be the assistant reply")
    if not msgs[-1]["content"].strip():
        raise bad(f"messages[{len(msgs) - 1}].content", "the assistant reply is empty")
    return [{"role": m["role"], "content": m["content"]} for m in msgs]


def _ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def tokenize_dialogs(records: list[dict], tokenizer, max_length: int,
                     source: str = "dialog records") -> list[dict]:
    """input_ids / attention_mask / labels per record; labels are -100 except on the final reply.

    The chat template renders the prompt (every message but the last, with the generation prompt)
    and the whole dialog; the reply tokens are those after the prompt, including the template's
    end-of-turn token, so the model learns to stop. Sequences longer than `max_length` are cut on
    the right; a record whose reply is cut away entirely is skipped (logged with a count).
    Malformed records raise `DataValidationError` naming `source`, the record index and the field.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ConvbotError("the tokenizer has no chat template; dialogs cannot be rendered "
                           "(use the teacher's tokenizer, saved with its chat_template)")
    features, skipped = [], 0
    for index, record in enumerate(records):
        msgs = _check_record(record, index, source)
        prompt = tokenizer.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(msgs, tokenize=False)
        if full.startswith(prompt):
            prompt_ids, reply_ids = _ids(tokenizer, prompt), _ids(tokenizer, full[len(prompt):])
            input_ids = prompt_ids + reply_ids
        else:  # a template that renders the prompt differently inside the whole dialog
            input_ids, p_ids = _ids(tokenizer, full), _ids(tokenizer, prompt)
            n = 0
            while n < min(len(p_ids), len(input_ids)) and p_ids[n] == input_ids[n]:
                n += 1
            prompt_ids = input_ids[:n]
        labels = [IGNORE_INDEX] * len(prompt_ids) + input_ids[len(prompt_ids):]
        input_ids, labels = input_ids[:max_length], labels[:max_length]
        if all(label == IGNORE_INDEX for label in labels):
            skipped += 1
            continue
        features.append({"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels})
    if skipped:
        log.warning("%s: skipped %d of %d record(s) whose reply does not fit in max_length=%d",
                    source, skipped, len(records), max_length)
    return features


class PadCollator:
    """Right-pads input_ids (pad id), attention_mask (0) and labels (-100) to the longest in the batch."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        pads = {"input_ids": self.pad_token_id, "attention_mask": 0, "labels": IGNORE_INDEX}
        return {k: torch.tensor([list(f[k]) + [v] * (width - len(f[k])) for f in features], dtype=torch.long)
                for k, v in pads.items() if k in features[0]}


# ------------------------------------------------------------------------------------------- trainer


@dataclass(frozen=True)
class DistillConfig:
    recipe: str = "configs/recipes/student_llm.yaml"
    overrides: dict[str, Any] = field(default_factory=dict)
    temperature: float = 2.0
    alpha: float = 0.5  # weight of the token-level KL; 1 - alpha on CE to the teacher-written reply
    max_length: int = 256


def distillation_loss(student_logits, teacher_logits, labels, temperature: float, alpha: float):
    """(loss, kl, ce) over positions whose (shifted) label is not -100; all per-token means.

    Causal LM: logits at position t predict the token at t + 1, so labels are shifted left.
    """
    import torch.nn.functional as F

    if student_logits.shape[-1] != teacher_logits.shape[-1]:
        raise TokenizerMismatchError(
            f"student and teacher logits have different widths ({student_logits.shape[-1]} vs "
            f"{teacher_logits.shape[-1]}); they must share the vocabulary")
    target = labels[:, 1:]
    mask = target != IGNORE_INDEX
    s = student_logits[:, :-1][mask].float()  # (N, V): only supervised positions, to save memory
    t = teacher_logits[:, :-1][mask].float()
    if s.shape[0] == 0:
        zero = student_logits.sum() * 0.0  # keeps the graph; a batch with nothing to learn
        return zero, zero.detach(), zero.detach()
    ce = F.cross_entropy(s, target[mask])
    kl = F.kl_div(F.log_softmax(s / temperature, dim=-1), F.log_softmax(t / temperature, dim=-1),
                  log_target=True, reduction="none").sum(-1).mean()
    loss = alpha * temperature**2 * kl + (1.0 - alpha) * ce
    return loss, kl.detach(), ce.detach()


def _make_trainer_class():
    import torch
    from transformers import Trainer

    class DistillationTrainer(Trainer):
        """`Trainer` whose loss is the KD mix above; the teacher is frozen, in eval mode, no grad."""

        # compute_loss returns a per-batch mean: let the Trainer divide by the accumulation steps
        loss_is_scaled_for_ga = False

        def __init__(self, *args, teacher_model, temperature: float = 2.0, alpha: float = 0.5, **kwargs):
            if temperature <= 0 or not 0.0 <= alpha <= 1.0:
                raise ValueError(f"need temperature > 0 and 0 <= alpha <= 1, got {temperature}, {alpha}")
            super().__init__(*args, **kwargs)
            if self.is_deepspeed_enabled:
                # under ZeRO-3 the teacher is sharded like the student (a 70B teacher fits no single GPU)
                from trl.models import prepare_deepspeed

                teacher_model = prepare_deepspeed(teacher_model, self.accelerator)
            else:
                teacher_model = teacher_model.to(self.args.device)
            teacher_model.eval()  # (a DeepSpeedEngine's eval() returns None)
            self.teacher = teacher_model
            for p in self.teacher.parameters():
                p.requires_grad_(False)
            self.temperature, self.alpha = float(temperature), float(alpha)
            self._parts = {"train": [0.0, 0.0, 0], "eval": [0.0, 0.0, 0]}

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs["labels"]
            fwd = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            outputs = model(**fwd)
            with torch.no_grad():
                self.teacher.eval()
                teacher_logits = self.teacher(**fwd).logits
            loss, kl, ce = distillation_loss(outputs.logits, teacher_logits, labels, self.temperature, self.alpha)
            part = self._parts["train" if model.training else "eval"]
            part[0] += float(kl)
            part[1] += float(ce)
            part[2] += 1
            return (loss, outputs) if return_outputs else loss

        def log(self, logs, start_time=None):
            key, prefix = ("eval", "eval_") if "eval_loss" in logs else ("train", "")
            kl, ce, n = self._parts[key]
            if n and (prefix or "loss" in logs):
                logs[f"{prefix}distill_kl"] = kl / n
                logs[f"{prefix}distill_ce"] = ce / n
                self._parts[key] = [0.0, 0.0, 0]
            super().log(logs, start_time)

    return DistillationTrainer


def _trainer_class():
    if "DistillationTrainer" not in globals():
        globals()["DistillationTrainer"] = _make_trainer_class()
    return globals()["DistillationTrainer"]


def __getattr__(name: str):
    # `DistillationTrainer` subclasses transformers.Trainer; it is built on first use so that importing
    # this module (e.g. for tokenize_dialogs) does not import the Trainer stack.
    if name == "DistillationTrainer":
        return _trainer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------- run


@dataclass
class DistillOutcome:
    model_dir: Path
    log_history: list[dict]
    validation: dict[str, float]
    resumed_from: str | None
    training_args: dict
    n_train: int
    n_eval: int


def distill(
    teacher_dir: str | os.PathLike,
    student_dir: str | os.PathLike,
    train_records: list[dict],
    eval_records: list[dict],
    work_dir: str | os.PathLike,
    cfg: DistillConfig = DistillConfig(),
    metrics_sink: Callable[[dict[str, float], int], None] | None = None,
) -> DistillOutcome:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_same_tokenizer(teacher_dir, student_dir)
    work_dir = Path(work_dir)

    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    train = tokenize_dialogs(train_records, tokenizer, cfg.max_length, "train records")
    evals = tokenize_dialogs(eval_records, tokenizer, cfg.max_length, "eval records")
    for name, feats in (("train records", train), ("eval records", evals)):
        if not feats:
            raise DataValidationError(name, None, None, "no usable dialog (empty, or every reply cut by max_length)")

    teacher = AutoModelForCausalLM.from_pretrained(teacher_dir, dtype=torch.float32)
    student = AutoModelForCausalLM.from_pretrained(student_dir, dtype=torch.float32)
    # logits over the whole eval set would not fit in memory: the eval metric is the loss
    args = load_training_args(cfg.recipe, work_dir / "checkpoints", {"prediction_loss_only": True, **cfg.overrides})
    callbacks = [manifest_callback()] + ([MetricsForwarder(metrics_sink).callback] if metrics_sink is not None else [])
    trainer = _trainer_class()(
        model=student, args=args, train_dataset=Dataset.from_list(train), eval_dataset=Dataset.from_list(evals),
        processing_class=tokenizer, data_collator=PadCollator(tokenizer.pad_token_id), callbacks=callbacks,
        teacher_model=teacher, temperature=cfg.temperature, alpha=cfg.alpha,
    )
    last = resume_point(args.output_dir)
    if last:
        log.info("resuming distillation from %s", last)
    trainer.train(resume_from_checkpoint=last)
    validation = {k: float(v) for k, v in trainer.evaluate().items() if isinstance(v, (int, float))}

    train_info = {
        "teacher": str(teacher_dir), "student_init": str(student_dir), "config": asdict(cfg),
        "n_train": len(train), "n_eval": len(evals), "training_args": args.to_dict(), "validation": validation,
    }
    student_info = Path(student_dir) / STUDENT_INFO
    model_dir = work_dir / "model"
    staging = work_dir / ".model.staging"
    if trainer.is_world_process_zero() and staging.exists():
        shutil.rmtree(staging)
    trainer.accelerator.wait_for_everyone()
    # training turns the KV cache off in the config; a saved student decodes (and drafts) with it on
    trainer.model.config.use_cache = True
    trainer.save_model(str(staging))  # every rank: ZeRO-3 gathers the shards; the main process writes
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(staging)
        if student_info.exists():
            (staging / STUDENT_INFO).write_text(student_info.read_text())
        (staging / TRAIN_INFO).write_text(json.dumps(train_info, indent=2, default=str))
        replace_dir(staging, model_dir)
    trainer.accelerator.wait_for_everyone()
    return DistillOutcome(model_dir, list(trainer.state.log_history), validation, last, args.to_dict(),
                          len(train), len(evals))
