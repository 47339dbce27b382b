"""Out-of-scope detection that looks past the classifier: how far an utterance is from what it was trained on.

A fine-tuned classifier is often confident about requests that resemble none of its intents, so its maximum
softmax probability (the usual baseline detector, Hendrycks & Gimpel, 2017) lets many through. The base encoder
it started from has not been pulled towards the intents, so its sentence embeddings still place an off-topic
request far from every intent.
The in-scope score here adds the two, each standardised on the calibration rows:

    score = z(best in-scope calibrated probability) + w * z(cosine similarity to the nearest intent centroid)

where a centroid is the mean normalised base-encoder embedding of an intent's training utterances. Below the
threshold, chosen like the confidence threshold on the calibration rows (validation rows plus generated
off-topic requests the model never trained on), a request is out of scope.

The same similarities also help pick the intent: of the in-scope intents, the one with the highest

    log(calibrated probability) + lam * cosine similarity to the intent's centroid

(a product of the classifier's and the centroids' evidence). A classifier fine-tuned on generated requests
leans on their wording; the base encoder's centroids, alone, already pick the intent of real requests about as
well (CLINC150's development rows), and together they err less than either. A request the classifier puts in
its out-of-scope class stays there. `w` and `lam` were chosen on the development slice (see `NoveltyEncoder`).

Everything this needs besides the encoder (centroids, statistics, weights, threshold, which encoder) is a small
dict that travels in the model's config; a score fitted before the weights existed reads as w 1, lam 0.
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
    similarity_weight: float = 1.0  # w above
    class_weight: float = 0.0  # lam above; 0: the classifier alone picks the intent

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NoveltyScore":
        return cls(**data)

    def class_similarity(self, embeddings: np.ndarray) -> np.ndarray:
        """Cosine similarity of each (normalised) embedding to each intent's centroid, columns as `intents`."""
        return _normalised(np.asarray(embeddings, dtype=np.float32)) @ np.asarray(self.centroids, np.float32).T

    def similarity(self, embeddings: np.ndarray) -> np.ndarray:
        """Cosine similarity of each (normalised) embedding to its nearest intent centroid."""
        return self.class_similarity(embeddings).max(1)

    def in_scope_score(self, confidence: np.ndarray, embeddings: np.ndarray,
                       similarity: np.ndarray | None = None) -> np.ndarray:
        """Higher is more in scope; below `threshold` is out of scope."""
        similarity = self.similarity(embeddings) if similarity is None else similarity
        return ((np.asarray(confidence) - self.mean[0]) / self.std[0]
                + self.similarity_weight * (similarity - self.mean[1]) / self.std[1])

    def assess(self, proba: np.ndarray, labels: list[str], embeddings: np.ndarray,
               out_of_scope: str) -> tuple[np.ndarray, np.ndarray]:
        """(index into `labels` of each row's intent, its in-scope score): the intent by the classifier's
        calibrated probabilities and the centroids together (`class_weight`), except where the classifier's
        most likely label is `out_of_scope`."""
        proba = np.asarray(proba, dtype=np.float64)
        sims = self.class_similarity(embeddings)
        in_cols = [i for i, label in enumerate(labels) if label != out_of_scope]
        score = self.in_scope_score(proba[:, in_cols].max(axis=1) if in_cols else np.zeros(len(proba)), embeddings,
                                    sims.max(axis=1) if sims.shape[1] else np.zeros(len(proba)))
        best = proba.argmax(axis=1)
        if self.class_weight and in_cols and len(proba):
            cols = {label: i for i, label in enumerate(self.intents)}
            # an intent with no training rows (no centroid) gets no similarity: the classifier alone speaks for it
            evidence = np.stack([sims[:, cols[labels[i]]] if labels[i] in cols else np.zeros(len(proba))
                                 for i in in_cols], axis=1)
            fused = np.log(np.clip(proba[:, in_cols], 1e-12, 1.0)) + self.class_weight * evidence
            chosen = np.asarray(in_cols)[fused.argmax(axis=1)]
            stays_out = np.asarray([labels[b] == out_of_scope for b in best])
            best = np.where(stays_out, best, chosen)
        return best, score


def centroids(embeddings: np.ndarray, labels: list[str]) -> tuple[list[str], np.ndarray]:
    labels_arr = np.asarray(labels)
    intents = sorted(set(labels))
    means = np.stack([_normalised(embeddings[labels_arr == i]).mean(0) for i in intents])
    return intents, _normalised(means)


def fit_novelty(encoder: str, encoder_sha256: str, train_embeddings: np.ndarray, train_labels: list[str],
                cal_proba: np.ndarray, cal_embeddings: np.ndarray, cal_gold: list[str], labels: list[str],
                out_of_scope: str, choose: Callable[[np.ndarray, np.ndarray, np.ndarray], float],
                similarity_weight: float = 1.0, class_weight: float = 0.0) -> NoveltyScore:
    """Centroids from the in-scope training rows, statistics and threshold from the calibration rows.

    `cal_proba` are the classifier's calibrated probabilities on the calibration rows (columns as `labels`) and
    `cal_gold` their true labels (`out_of_scope` for the off-topic ones); `choose(score, in_scope, correct)` picks
    the threshold (training.calibration.best_threshold), where correct means the intent the score's own rule
    picks (see `NoveltyScore.assess`) is right."""
    intents, cents = centroids(train_embeddings, train_labels)
    sims = (_normalised(cal_embeddings) @ cents.T).max(1)
    cal_proba = np.asarray(cal_proba, dtype=np.float64)
    in_cols = [i for i, label in enumerate(labels) if label != out_of_scope]
    cal_confidence = cal_proba[:, in_cols].max(axis=1)
    mean = [float(cal_confidence.mean()), float(sims.mean())]
    std = [float(max(cal_confidence.std(), 1e-6)), float(max(sims.std(), 1e-6))]
    partial = NoveltyScore(encoder, encoder_sha256, intents, np.round(cents, 6).tolist(), mean, std, 0.0,
                           len(cal_confidence), float(similarity_weight), float(class_weight))
    best, score = partial.assess(cal_proba, labels, cal_embeddings, out_of_scope)
    gold = np.asarray(cal_gold)
    threshold = choose(score, gold != out_of_scope, np.asarray(labels)[best] == gold)
    return NoveltyScore(**{**partial.to_dict(), "threshold": float(threshold)})
