"""Load a trained intent classifier (a `save_pretrained` folder) and score utterances."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class IntentPredictor:
    def __init__(self, model, tokenizer, max_length: int = 64):
        import torch

        self._torch = torch
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> "IntentPredictor":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model_dir = Path(model_dir)
        info = model_dir / "convbot_train.json"
        max_length = json.loads(info.read_text()).get("max_length", 64) if info.exists() else 64
        return cls(AutoModelForSequenceClassification.from_pretrained(model_dir),
                   AutoTokenizer.from_pretrained(model_dir), max_length)

    def predict_proba(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(texts[i : i + batch_size], truncation=True, max_length=self.max_length,
                                     padding=True, return_tensors="pt")
                out.append(torch.softmax(self.model(**enc).logits, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)))

    def predict(self, texts: list[str]) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]
