"""Fine-tune an encoder for intent classification with the HF Trainer and early stopping.

A straight line: data, tokenizer, model, trainer, train (resuming from the last checkpoint),
save (with the config that built it), evaluate on validation.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from .calibration import Calibration, best_threshold, calibrate
from .catalog import OUT_OF_SCOPE
from .checkpoints import manifest_callback, resume_point
from .fileio import atomic_dir
from .intent_dataset import load_labels, load_split
from .intent_predictor import CALIBRATION_KEY, NOVELTY_KEY, IntentPredictor
from .novelty import NoveltyScore, base_encoder_embed, fit_novelty
from .out_of_scope import out_of_scope_rows

log = logging.getLogger(__name__)

TRAIN_INFO = "convbot_train.json"


@dataclass(frozen=True)
class IntentTrainConfig:
    recipe: str = "configs/recipes/intent_model.yaml"
    overrides: dict[str, Any] = field(default_factory=dict)
    max_length: int = 64
    early_stopping_patience: int = 2


@dataclass(frozen=True)
class NoveltyEncoder:
    """The base encoder the out-of-scope score embeds with (its spec and weights), and how many generated
    off-topic requests join the validation rows to fit it."""

    spec: str
    sha256: str
    off_topic_requests: int = 300
    seed: int = 7


@dataclass
class TrainOutcome:
    model_dir: Path
    labels: list[str]
    log_history: list[dict]
    validation: dict[str, float]
    resumed_from: str | None
    training_args: dict


def load_training_args(recipe: str | os.PathLike, output_dir: str | os.PathLike, overrides: dict | None = None,
                       args_class=None):
    """TrainingArguments (or a subclass such as TRL's DPOConfig) from a YAML recipe, overrides on top."""
    from transformers import TrainingArguments

    values = yaml.safe_load(Path(recipe).read_text()) or {}
    values.update(overrides or {})
    values["output_dir"] = str(output_dir)
    return (args_class or TrainingArguments)(**values)


class MetricsForwarder:
    """Forwards Trainer logs (loss, eval metrics) to a callable such as an MLflow logger."""

    def __init__(self, sink: Callable[[dict[str, float], int], None]):
        from transformers import TrainerCallback

        outer = self

        class _CB(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                numeric = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float))}
                if numeric:
                    outer.sink(numeric, state.global_step)

        self.sink = sink
        self.callback = _CB()


def _accuracy(eval_pred) -> dict[str, float]:
    logits, labels = eval_pred
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def _calibrate(model, tokenizer, data_dir, labels: list[str]) -> Calibration:
    """Temperature and out-of-scope threshold, fitted on the validation split."""
    val = load_split(data_dir, "validation")
    logits = IntentPredictor(model, tokenizer).predict_logits(val["text"].tolist())
    return calibrate(logits, val["intent"].tolist(), labels, OUT_OF_SCOPE)


def _fit_novelty(predictor: IntentPredictor, data_dir, encoder: NoveltyEncoder) -> NoveltyScore:
    """The out-of-scope score (training.novelty): centroids from the in-scope training rows; statistics and
    threshold from the validation rows plus generated off-topic requests that are not training rows."""
    train, val = load_split(data_dir, "train"), load_split(data_dir, "validation")
    in_scope = train[train["intent"] != OUT_OF_SCOPE]
    seen = set(train["text"])
    off_topic = [t for t, *_ in out_of_scope_rows(encoder.off_topic_requests, seed=encoder.seed) if t not in seen]
    texts = val["text"].tolist() + off_topic
    gold = np.asarray(val["intent"].tolist() + [OUT_OF_SCOPE] * len(off_topic))
    proba = predictor.predict_proba(texts)
    in_cols = [i for i, label in enumerate(predictor.labels) if label != OUT_OF_SCOPE]
    predicted = np.asarray(predictor.labels)[proba.argmax(axis=1)]
    embed = base_encoder_embed(encoder.spec, encoder.sha256, predictor.max_length)

    def choose(score, inside, correct):  # candidates: the score's quantiles in steps of 0.25%
        return best_threshold(score, inside, correct, np.unique(np.quantile(score, np.linspace(0, 1, 401))))

    return fit_novelty(encoder.spec, encoder.sha256, embed(in_scope["text"].tolist()), in_scope["intent"].tolist(),
                       proba[:, in_cols].max(axis=1), embed(texts), gold != OUT_OF_SCOPE, predicted == gold, choose)


def train_intent_model(
    data_dir: str | os.PathLike,
    encoder_path: str | os.PathLike,
    work_dir: str | os.PathLike,
    cfg: IntentTrainConfig = IntentTrainConfig(),
    metrics_sink: Callable[[dict[str, float], int], None] | None = None,
    novelty: NoveltyEncoder | None = None,
) -> TrainOutcome:
    """`novelty`: also fit the out-of-scope score on this base encoder (the intent model; not the guard)."""
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        Trainer,
    )

    work_dir = Path(work_dir)
    labels = load_labels(data_dir)
    label2id = {l: i for i, l in enumerate(labels)}

    tokenizer = AutoTokenizer.from_pretrained(encoder_path)

    def encode(split: str) -> Dataset:
        df = load_split(data_dir, split)
        ds = Dataset.from_dict({"text": df["text"].tolist(), "label": [label2id[i] for i in df["intent"]]})
        return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=cfg.max_length),
                      batched=True, remove_columns=["text"])

    train_ds, val_ds = encode("train"), encode("validation")
    model = AutoModelForSequenceClassification.from_pretrained(
        encoder_path, num_labels=len(labels),
        id2label={i: l for l, i in label2id.items()}, label2id=label2id,
    )
    args = load_training_args(cfg.recipe, work_dir / "checkpoints", cfg.overrides)
    callbacks = [EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience), manifest_callback()]
    if metrics_sink is not None:
        callbacks.append(MetricsForwarder(metrics_sink).callback)
    trainer = Trainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
        processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=_accuracy, callbacks=callbacks,
    )
    last = resume_point(args.output_dir)
    if last:
        log.info("resuming intent training from %s", last)
    trainer.train(resume_from_checkpoint=last)
    validation = {k: float(v) for k, v in trainer.evaluate().items() if isinstance(v, (int, float))}

    train_info = {
        "base_encoder": str(encoder_path), "data_dir": str(data_dir), "labels": labels,
        "max_length": cfg.max_length, "training_args": args.to_dict(), "validation": validation,
    }
    # the truncation length travels with the tokenizer and the calibration with the model's config, to the
    # registry too: inference truncates and decides as evaluation did
    tokenizer.model_max_length = cfg.max_length
    calibration = _calibrate(trainer.model, tokenizer, data_dir, labels).to_dict()
    train_info["calibration"] = dict(calibration)
    setattr(trainer.model.config, CALIBRATION_KEY, calibration)
    if novelty is not None:
        score = _fit_novelty(IntentPredictor(trainer.model, tokenizer), data_dir, novelty)
        setattr(trainer.model.config, CALIBRATION_KEY, {**calibration, NOVELTY_KEY: score.to_dict()})
        train_info["calibration"]["novelty_threshold"] = score.threshold
    model_dir = work_dir / "model"
    with atomic_dir(model_dir) as tmp:
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(tmp)
        (tmp / TRAIN_INFO).write_text(json.dumps(train_info, indent=2, default=str))
    return TrainOutcome(model_dir, labels, list(trainer.state.log_history), validation, last, args.to_dict())
