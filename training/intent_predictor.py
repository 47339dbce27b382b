"""Load a trained intent classifier (a `save_pretrained` folder) and score utterances."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .calibration import decide, softmax
from .catalog import OUT_OF_SCOPE
from .novelty import NoveltyScore, base_encoder_embed, load_base_encoder

CALIBRATION_KEY = "convbot_calibration"
NOVELTY_KEY = "novelty"  # inside the calibration: the out-of-scope score's centroids, statistics and threshold
Batch = Callable[[list[str]], np.ndarray]  # texts -> one row per text


# tokenizers without a recorded length report a huge sentinel (transformers' VERY_LARGE_INTEGER)
_UNSET_LENGTH = 10**9


class IntentPredictor:
    """Scores utterances with the truncation length the model was trained with: the tokenizer's
    `model_max_length`, which training records and which travels with the tokenizer (folder or registry)."""

    def __init__(self, model, tokenizer):
        import torch

        if not tokenizer.model_max_length or tokenizer.model_max_length >= _UNSET_LENGTH:
            raise ValueError("the tokenizer records no model_max_length: the truncation length the classifier "
                             "was trained with is unknown (train it with training.intent_trainer)")
        self._torch = torch
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = int(tokenizer.model_max_length)
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        # fitted on the validation split at training time and saved in the model's config (it travels with it)
        self.calibration = dict(getattr(model.config, CALIBRATION_KEY, None) or {})
        self.temperature = float(self.calibration.get("temperature", 1.0))
        self.threshold = float(self.calibration.get("threshold", 0.0))
        novelty = self.calibration.get(NOVELTY_KEY)
        self.novelty = NoveltyScore.from_dict(novelty) if novelty else None
        self._embed = None
        self._wrap: Callable[[Batch], Batch] = lambda fn: fn
        self._logits: Batch = self._forward

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> "IntentPredictor":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model_dir = Path(model_dir)
        return cls(AutoModelForSequenceClassification.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir))

    @property
    def calibrated(self) -> bool:
        return bool(self.calibration)

    def predict_logits(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        out = [self._logits(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)))

    def _forward(self, texts: list[str]) -> np.ndarray:
        with self._torch.inference_mode():
            enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=True,
                                 return_tensors="pt")
            return self.model(**enc).logits.float().numpy()

    def replace_passes(self, logits: Batch, embed: Batch | None = None) -> "IntentPredictor":
        """Compute the classifier's logits (and the novelty score's embeddings) with another runtime that gives the
        same numbers, e.g. serving's ONNX Runtime export; before `share_passes`."""
        if embed is not None and self.novelty is None:
            raise ValueError("this model has no novelty score: there is no embedding pass to replace")
        self._forward = logits
        self._logits = self._wrap(logits)
        if embed is not None:
            self._embed = self._wrap(embed)
        return self

    def base_encoder(self):
        """A new copy of the novelty score's base encoder (a sentence-transformers model, its checksum verified),
        for a runtime that takes the weights over (see `replace_passes`)."""
        if self.novelty is None:
            raise ValueError("this model has no novelty score: it was trained without one (confidence threshold only)")
        return load_base_encoder(self.novelty.encoder, self.novelty.encoder_sha256, self.max_length)

    def share_passes(self, wrap: Callable[[Batch], Batch]) -> "IntentPredictor":
        """Send every model pass (the classifier's, and the novelty score's encoder) through `wrap`: the bot's
        `serving.bot.coalesce.Coalescing`, which runs the texts of concurrent callers as one batch."""
        self._wrap = wrap
        self._logits = wrap(self._forward)
        if self._embed is not None:
            self._embed = wrap(self._embed)
        return self

    def predict_proba(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """Calibrated probabilities (the model's temperature applied)."""
        return softmax(self.predict_logits(texts, batch_size), self.temperature)

    def predict(self, texts: list[str]) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def prepare(self) -> "IntentPredictor":
        """Load what the decisions need now (the novelty score's base encoder), not at the first request."""
        if self.novelty is not None and self._embed is None:
            self.embed(["ready"])
        return self

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised sentence embeddings from the base encoder the novelty score was fitted with (loaded on
        first use; its weights must be the same ones)."""
        if self.novelty is None:
            raise ValueError("this model has no novelty score: it was trained without one (confidence threshold only)")
        if self._embed is None:
            self._embed = self._wrap(base_encoder_embed(self.novelty.encoder, self.novelty.encoder_sha256,
                                                        self.max_length))
        return self._embed(texts)

    def assess(self, texts: list[str], proba: np.ndarray | None = None) -> "Assessment":
        """The bot's decision rule, with the scores behind it: the most likely intent, out-of-scope when the
        in-scope score is below its threshold (the novelty score when the model has one, else the calibrated
        confidence)."""
        proba = self.predict_proba(texts) if proba is None else proba
        in_cols = [i for i, label in enumerate(self.labels) if label != OUT_OF_SCOPE]
        best_in_scope = proba[:, in_cols].max(axis=1) if in_cols else np.zeros(len(proba))
        if self.novelty is None:
            decisions, confidence = decide(proba, self.labels, self.threshold, OUT_OF_SCOPE)
            return Assessment(proba, decisions, confidence, best_in_scope)
        score = self.novelty.in_scope_score(best_in_scope, self.embed(texts)) if len(texts) else np.zeros(0)
        best = proba.argmax(axis=1)
        decisions = [OUT_OF_SCOPE if s < self.novelty.threshold else self.labels[b] for b, s in zip(best, score)]
        return Assessment(proba, decisions, proba[np.arange(len(proba)), best], score)

    def decide(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        """(decisions, confidence of the most likely intent): see `assess`."""
        result = self.assess(texts)
        return result.decisions, result.confidence


@dataclass(frozen=True)
class Assessment:
    proba: np.ndarray  # calibrated probabilities
    decisions: list[str]  # intents, out-of-scope where the score is below the threshold
    confidence: np.ndarray  # the most likely intent's calibrated probability
    in_scope_score: np.ndarray  # higher is more in scope (the score the decision thresholds)
