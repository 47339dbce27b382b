"""Out-of-scope detection that looks past the classifier: how far an utterance is from what it was trained on.

A fine-tuned classifier is often confident about requests that resemble none of its intents, so its maximum
softmax probability (the usual baseline detector, Hendrycks & Gimpel, 2017) lets many through. The base encoder
it started from has not been pulled towards the intents, so its sentence embeddings still place an off-topic
request far from every intent.
The in-scope score here adds the two, each standardised on the calibration rows:

    score = z(best in-scope calibrated probability) + z(cosine similarity to the nearest intent centroid)

where a centroid is the mean normalised base-encoder embedding of an intent's training utterances. Below the
threshold, chosen like the confidence threshold on the calibration rows (validation rows plus generated
off-topic requests the model never trained on), a request is out of scope. Everything this needs besides the
encoder (centroids, statistics, threshold, which encoder) is a small dict that travels in the model's config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

Embed = Callable[[list[str]], np.ndarray]  # texts -> normalised sentence embeddings, one row per text


def load_base_encoder(encoder: str, sha256: str, max_length: int):
    """The base encoder as a sentence-transformers model (mean pooling, normalised: all-MiniLM-L6-v2's own
    pooling), refusing other weights than `sha256`: a novelty score is only valid with the encoder it was fitted
    with. A new copy each call; `base_encoder_model` is the shared one."""
    from .base_models import resolve_encoder
    from .dp_embedder import base_embedder

    resolved = resolve_encoder(encoder)
    if resolved.checksum != sha256:
        raise ValueError(f"the base encoder {encoder} at {resolved.path} has weights {resolved.checksum[:12]}, but "
                         f"the out-of-scope score was fitted with {sha256[:12]}")
    return base_embedder(resolved.path, max_length=max_length)


base_encoder_model = lru_cache(maxsize=4)(load_base_encoder)  # once per process: a challenger and its champion share it


@lru_cache(maxsize=4)
def base_encoder_embed(encoder: str, sha256: str, max_length: int) -> Embed:
    """`base_encoder_model` as a function of texts: normalised sentence embeddings, one row per text."""
    model = base_encoder_model(encoder, sha256, max_length)
    return lambda texts: np.asarray(model.encode(list(texts), batch_size=128, normalize_embeddings=True,
                                                 show_progress_bar=False), dtype=np.float32).reshape(
        len(texts), model.get_embedding_dimension())


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class NoveltyScore:
    encoder: str  # the base encoder's spec (resolved with training.base_models.resolve_encoder)
    encoder_sha256: str
    intents: list[str]
    centroids: list[list[float]]
    mean: list[float]  # of (confidence, similarity) on the calibration rows
    std: list[float]
    threshold: float
    n_calibration: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NoveltyScore":
        return cls(**data)

    def similarity(self, embeddings: np.ndarray) -> np.ndarray:
        """Cosine similarity of each (normalised) embedding to its nearest intent centroid."""
        return (_normalised(np.asarray(embeddings, dtype=np.float32)) @ np.asarray(self.centroids, np.float32).T).max(1)

    def in_scope_score(self, confidence: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """Higher is more in scope; below `threshold` is out of scope."""
        return ((np.asarray(confidence) - self.mean[0]) / self.std[0]
                + (self.similarity(embeddings) - self.mean[1]) / self.std[1])


def centroids(embeddings: np.ndarray, labels: list[str]) -> tuple[list[str], np.ndarray]:
    labels_arr = np.asarray(labels)
    intents = sorted(set(labels))
    means = np.stack([_normalised(embeddings[labels_arr == i]).mean(0) for i in intents])
    return intents, _normalised(means)


def fit_novelty(encoder: str, encoder_sha256: str, train_embeddings: np.ndarray, train_labels: list[str],
                cal_confidence: np.ndarray, cal_embeddings: np.ndarray, cal_in_scope: np.ndarray,
                cal_correct: np.ndarray, choose: Callable[[np.ndarray, np.ndarray, np.ndarray], float]) -> NoveltyScore:
    """Centroids from the in-scope training rows, statistics and threshold from the calibration rows.

    `cal_in_scope` marks the calibration rows that are in scope, `cal_correct` those whose predicted intent is
    right; `choose(score, in_scope, correct)` picks the threshold (training.calibration.best_threshold)."""
    intents, cents = centroids(train_embeddings, train_labels)
    sims = (_normalised(cal_embeddings) @ cents.T).max(1)
    cal_confidence = np.asarray(cal_confidence, dtype=np.float64)
    mean = [float(cal_confidence.mean()), float(sims.mean())]
    std = [float(max(cal_confidence.std(), 1e-6)), float(max(sims.std(), 1e-6))]
    partial = NoveltyScore(encoder, encoder_sha256, intents, np.round(cents, 6).tolist(), mean, std, 0.0,
                           len(cal_confidence))
    score = partial.in_scope_score(cal_confidence, cal_embeddings)
    threshold = choose(score, np.asarray(cal_in_scope, bool), np.asarray(cal_correct, bool))
    return NoveltyScore(**{**partial.to_dict(), "threshold": float(threshold)})
