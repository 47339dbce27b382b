"""Load a trained intent classifier (a `save_pretrained` folder) and score utterances."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .calibration import decide, softmax
from .catalog import OUT_OF_SCOPE

CALIBRATION_KEY = "convbot_calibration"


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

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> "IntentPredictor":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model_dir = Path(model_dir)
        return cls(AutoModelForSequenceClassification.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir))

    @property
    def calibrated(self) -> bool:
        return bool(self.calibration)

    def predict_logits(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(texts[i : i + batch_size], truncation=True, max_length=self.max_length,
                                     padding=True, return_tensors="pt")
                out.append(self.model(**enc).logits.float().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)))

    def predict_proba(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """Calibrated probabilities (the model's temperature applied)."""
        return softmax(self.predict_logits(texts, batch_size), self.temperature)

    def predict(self, texts: list[str]) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def decide(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        """The bot's decision rule: the most likely intent, out-of-scope below the calibrated threshold."""
        return decide(self.predict_proba(texts), self.labels, self.threshold, OUT_OF_SCOPE)
