"""Sentence-embedding fine-tune of the base encoder, with or without DP-SGD (Opacus).

The objective is intent classification over the L2-normalised mean-pooled embedding
(logits = scale * W normalize(e)). Its loss is a sum of per-example
losses, which DP-SGD needs: each example's gradient is clipped on its own (max_grad_norm) before
Gaussian noise is added. In-batch-negative contrastive losses couple the examples of a batch and
would void the per-example guarantee, so they are not used here.

With `target_epsilon`, Opacus' `make_private_with_epsilon` calibrates the noise for (epsilon, delta)
over the configured epochs with Poisson sampling, and the epsilon actually spent is read back from
the accountant. The token embeddings and all but the top `trainable_layers` layers are frozen (fewer
trainable weights, less noise in total); the frozen bottom's hidden states are computed once, before
training, rather than in every epoch.

The result is saved as a sentence-transformers model (Transformer -> mean Pooling -> Normalize).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .errors import ConvbotError
from .fileio import atomic_dir

log = logging.getLogger(__name__)

EMBEDDER_INFO = "convbot_embedder.json"


class PrivacyConfigError(ConvbotError):
    """A DP run that cannot give the promised guarantee as configured."""


@dataclass(frozen=True)
class EmbedderTrainConfig:
    # DP-SGD wants large logical batches and enough steps (Li et al. 2022; De et al. 2022): the noise on the
    # mean gradient shrinks with the batch; training only the top layers keeps the noise dimension small.
    # Chosen on public data only (`python -m benchmarks.run dp_tune`, CLINC150): tuning spends no budget.
    epochs: int = 10
    batch_size: int = 256  # expected (logical) batch; with Poisson sampling each batch's size varies around it
    physical_batch_size: int = 64  # what fits in memory at once; Opacus' BatchMemoryManager splits logical batches
    learning_rate: float = 3e-3
    trainable_layers: int = 2  # top encoder layers that train (and the head); -1 = every layer, embeddings stay frozen
    max_length: int = 32
    scale: float = 20.0  # cosine-classifier temperature
    target_epsilon: float | None = 8.0  # None = no DP (the non-private baseline)
    target_delta: float = 1e-5
    max_grad_norm: float = 1.0
    accountant: str = "prv"
    seed: int = 0


@dataclass
class EmbedderOutcome:
    model_dir: Path | None  # None: the model was kept in memory only (`model`)
    epsilon_spent: float | None
    delta: float | None
    noise_multiplier: float | None
    losses: list[float]
    steps: int
    n_train: int
    model: object = None  # the trained sentence-transformers model (always set)


def _cosine_classifier(config, top_layers, n_labels: int, scale: float):
    import torch
    from torch import nn
    from transformers.masking_utils import create_bidirectional_mask

    class CosineEmbeddingClassifier(nn.Module):
        """The trainable top of the encoder (its own layer objects, so training moves the encoder's weights),
        mean pooling, L2 normalisation and a cosine classifier, over the frozen bottom's hidden states."""

        def __init__(self):
            super().__init__()
            self.config = config
            self.layers = nn.ModuleList(top_layers)
            self.classes = nn.Linear(config.hidden_size, n_labels, bias=False)
            self.scale = scale

        def embed(self, hidden, attention_mask):
            mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
            for layer in self.layers:
                hidden = layer(hidden, mask)
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled, dim=-1)

        def forward(self, hidden, attention_mask):
            # every weight is used through a module call: Opacus computes per-example gradients in module
            # hooks, and a weight used directly (e.g. normalised here) would escape clipping and noise
            return self.scale * self.classes(self.embed(hidden, attention_mask))

    return CosineEmbeddingClassifier()


def _frozen_features(encoder, n_frozen: int, input_ids, attention_mask, device: str, chunk: int = 256):
    """Hidden states after the embeddings and the frozen bottom `n_frozen` layers, for every example. They are a
    fixed function of each example (no weight there trains, dropout off), so they are computed once instead of
    every epoch; the DP guarantee is unchanged (clipping and noise act on the trainable top's gradients)."""
    import torch
    from transformers.masking_utils import create_bidirectional_mask

    encoder.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(input_ids), chunk):
            ids, mask = input_ids[start:start + chunk].to(device), attention_mask[start:start + chunk].to(device)
            hidden = encoder.embeddings(input_ids=ids)
            extended = create_bidirectional_mask(config=encoder.config, inputs_embeds=hidden, attention_mask=mask)
            for layer in encoder.encoder.layer[:n_frozen]:
                hidden = layer(hidden, extended)
            out.append(hidden.cpu())
    return torch.cat(out)


def train_embedder(encoder_dir: str | os.PathLike, texts: list[str], labels: list[str],
                   out_dir: str | os.PathLike | None, cfg: EmbedderTrainConfig = EmbedderTrainConfig(),
                   progress: bool = True, device: str = "cpu") -> EmbedderOutcome:
    """Fine-tune; save to `out_dir` as a sentence-transformers folder, or with `out_dir=None` keep the
    model in memory only (the non-private reference on private data must never reach a disk). `device` is
    where training runs (the returned model is on the CPU either way)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from transformers import AutoModel, AutoTokenizer

    if not texts or len(texts) != len(labels):
        raise ValueError("need one label per text, and at least one text")
    if cfg.target_epsilon is not None:
        if cfg.target_epsilon <= 0 or not 0 < cfg.target_delta < 1:
            raise PrivacyConfigError(f"need epsilon > 0 and 0 < delta < 1, got {cfg.target_epsilon}, {cfg.target_delta}")
        if cfg.target_delta >= 1 / len(texts):
            raise PrivacyConfigError(f"delta {cfg.target_delta} is not below 1/n = {1 / len(texts):.2e}: "
                                     "such a delta allows leaking a whole record; lower it")
    torch.manual_seed(cfg.seed)
    label_names = sorted(set(labels))
    index = {name: i for i, name in enumerate(label_names)}
    tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    tokenizer.padding_side = "right"  # each physical batch is cut to its longest row below
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=cfg.max_length, return_tensors="pt")

    encoder = AutoModel.from_pretrained(encoder_dir, dtype=torch.float32).to(device)
    top = _freeze_all_but_top(encoder, cfg.trainable_layers)
    features = _frozen_features(encoder, len(encoder.encoder.layer) - len(top), enc["input_ids"], enc["attention_mask"],
                                device)
    data = TensorDataset(features, enc["attention_mask"], torch.tensor([index[y] for y in labels]))
    model = _cosine_classifier(encoder.config, top, len(label_names), cfg.scale).to(device)
    model.train()  # from_pretrained returns eval mode, in which Opacus captures no activations
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate,
                                  weight_decay=0.0)
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(cfg.seed))

    engine = None
    if cfg.target_epsilon is not None:
        from opacus import PrivacyEngine

        engine = PrivacyEngine(accountant=cfg.accountant)
        model, optimizer, loader = engine.make_private_with_epsilon(
            module=model, optimizer=optimizer, data_loader=loader, target_epsilon=cfg.target_epsilon,
            target_delta=cfg.target_delta, epochs=cfg.epochs, max_grad_norm=cfg.max_grad_norm, poisson_sampling=True,
        )
    loss_fn = torch.nn.CrossEntropyLoss(reduction="mean")
    losses, steps = [], 0
    for epoch in range(cfg.epochs):
        with _physical_batches(loader, cfg.physical_batch_size, optimizer if engine else None) as batches:
            bar = tqdm(batches, desc=f"{'DP ' if engine else ''}embedder epoch {epoch + 1}/{cfg.epochs}",
                       disable=not progress)
            for hidden, attention_mask, y, last in bar:
                if len(y) == 0:  # Poisson sampling can draw an empty batch
                    continue
                # rows are padded to max_length on the right; this batch's longest row is enough (same outputs,
                # and per-example gradients cost a fraction on short utterances)
                width = int(attention_mask.sum(dim=1).max())
                hidden, attention_mask = hidden[:, :width].to(device), attention_mask[:, :width].to(device)
                y = y.to(device)
                if engine:  # Opacus' optimizer accumulates the clipped per-example grads until the logical step
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_fn(model(hidden, attention_mask), y)
                    loss.backward()
                    optimizer.step()
                    stepped = False  # logical steps are counted by the accountant (read back below)
                else:  # the same logical batch by gradient accumulation
                    loss = loss_fn(model(hidden, attention_mask), y) * len(y) / cfg.batch_size
                    loss.backward()
                    stepped = last
                    if last:
                        optimizer.step()
                        optimizer.zero_grad(set_to_none=True)
                losses.append(float(loss.detach()) * (1 if engine else cfg.batch_size / max(len(y), 1)))
                steps += int(stepped)
                bar.set_postfix(loss=f"{losses[-1]:.3f}", steps=_accountant_steps(engine) if engine else steps)
    if engine:
        steps = _accountant_steps(engine)
    epsilon = float(engine.get_epsilon(cfg.target_delta)) if engine else None
    noise = float(optimizer.noise_multiplier) if engine else None
    if engine and epsilon > cfg.target_epsilon * 1.01:
        raise PrivacyConfigError(f"spent epsilon {epsilon:.3f} exceeds the target {cfg.target_epsilon}")

    encoder.to("cpu").eval()  # its top layers are the ones that trained
    st_model = _mean_pooled(encoder_dir, cfg.max_length, encoder)  # the trained encoder, never written to disk
    if out_dir is None:
        return EmbedderOutcome(None, epsilon, cfg.target_delta if engine else None, noise, losses, steps, len(texts),
                               st_model)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        _save_sentence_transformer(encoder, tokenizer, tmp, cfg.max_length)
        (tmp / EMBEDDER_INFO).write_text(json.dumps({
            "base": str(Path(encoder_dir).resolve()), "config": asdict(cfg), "labels": label_names,
            "n_train": len(texts), "steps": steps, "final_loss": losses[-1] if losses else None,
            "epsilon_spent": epsilon, "delta": cfg.target_delta if engine else None, "noise_multiplier": noise,
            "objective": "cosine intent classifier over mean-pooled, L2-normalised embeddings",
        }, indent=2))
    return EmbedderOutcome(out_dir, epsilon, cfg.target_delta if engine else None, noise, losses, steps, len(texts),
                           st_model)


def _mean_pooled(encoder_dir, max_length: int, encoder=None):
    """A sentence-transformers model over `encoder_dir` (or the in-memory `encoder` built from it): mean pooling
    and normalisation, as the base encoder ships."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    transformer = models.Transformer(str(encoder_dir), max_seq_length=max_length)
    if encoder is not None:
        transformer.model = encoder
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")


def _save_sentence_transformer(encoder, tokenizer, out_dir: Path, max_length: int) -> None:
    raw = out_dir / "_encoder"
    encoder.save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    _mean_pooled(raw, max_length).save(str(out_dir))
    shutil.rmtree(raw)


def _freeze_all_but_top(encoder, trainable_layers: int) -> list:
    """Embeddings (most of MiniLM's weights) always stay frozen, and the pooler (unused by mean pooling: DP-SGD
    needs a per-example grad for every trainable weight); with `trainable_layers` >= 0 only the top layers train.
    Fewer trainable weights means less noise in total under DP-SGD. Returns the layers that train."""
    layers = list(encoder.encoder.layer)
    top = layers[len(layers) - min(trainable_layers, len(layers)):] if trainable_layers >= 0 else layers
    frozen = [encoder.embeddings, *layers[: len(layers) - len(top)]]
    if getattr(encoder, "pooler", None) is not None:
        frozen.append(encoder.pooler)
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return top


def _accountant_steps(engine) -> int:
    return sum(n for _, _, n in engine.accountant.history)


@contextlib.contextmanager
def _physical_batches(loader, physical: int, dp_optimizer=None):
    """Yield (hidden, attention_mask, y, last_of_logical_batch) in batches of at most `physical` rows.
    Under DP, Opacus' BatchMemoryManager does the split (and tells the optimizer when a logical step ends);
    without DP each logical batch is cut here and its gradients accumulated."""
    if dp_optimizer is not None:
        from opacus.utils.batch_memory_manager import BatchMemoryManager

        with BatchMemoryManager(data_loader=loader, max_physical_batch_size=physical, optimizer=dp_optimizer) as dl:
            yield ((*batch, False) for batch in dl)
        return

    def cut():
        for batch in loader:
            n = len(batch[-1])
            for start in range(0, n, physical):
                yield (*(t[start:start + physical] for t in batch), start + physical >= n)
    yield cut()


def load_embedder(path: str | os.PathLike):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


def base_embedder(encoder_dir: str | os.PathLike, max_length: int = 32):
    """The base encoder as a sentence-transformers model with the same pooling (for comparisons)."""
    return _mean_pooled(encoder_dir, max_length)

