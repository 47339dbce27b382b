"""The bot's encoder passes in ONNX Runtime: the same numbers as PyTorch, in less time per short text.

A routing turn is three or four MiniLM passes over one short utterance (guard, intent, the novelty score's
base encoder, retrieval). At that size PyTorch's eager mode spends most of a pass dispatching operators, and
ONNX Runtime takes about half the time for the same numbers (`python -m benchmarks.run routing`). Each model
is exported when the bot loads it (a second each, to a temporary file; the bundle keeps only the Hugging
Face folders it was evaluated with), and an export that does not reproduce PyTorch's output on probe texts
is refused rather than served.

`onnx-int8` also quantizes the exported weights to int8 (per output channel) and the activations on the fly:
about half the time again, with numbers that move (within INT8_TOLERANCE on the probe texts). An activation's
scale is taken over the whole input of a pass, so in a batch a text's scores would depend on the texts that
share it (by hand, 2.5% of intent decisions moved in batches of eight other users' texts): each text runs in
a pass of its own, and gets the decision it got when the bundle was evaluated, whatever else is waiting.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from training.intent_predictor import Batch

RUNTIMES = ("onnx", "onnx-int8", "torch")
DEFAULT_RUNTIME = "onnx"  # also what a bundle made before the setting existed gets: the same numbers, faster

PROBE = ["ready", "i need to book a flight to paris for two people next friday, please",
         "how do i kill a python process that hangs?"]
TOLERANCE = 1e-3  # float32 graphs fuse operators differently; a wrong export is off by far more
# onnx-int8: weights in int8 per output channel, activations quantized on the fly (ONNX Runtime's dynamic
# quantization). Each output row moves, relative to the output's length (`relative_distance`), by this much at
# most on the probe texts (measured on the MiniLM models relative to each row's own length, which is never less:
# 0.01 to 0.13 for the classifiers' logits, 0.25 for sentence embeddings, a cosine of 0.97); a broken graph points
# elsewhere, at a distance near 1 or more
INT8_TOLERANCE = 0.35


class ExportMismatch(RuntimeError):
    """The ONNX export does not compute what the PyTorch model computes."""


def onnx_classifier(model, tokenizer, max_length: int, threads: int | None = None, int8: bool = False) -> Batch:
    """`texts -> logits` of a `transformers` sequence classifier, tokenized as `IntentPredictor` does."""
    import torch

    def encode(texts: Sequence[str]) -> dict:
        return dict(tokenizer(list(texts), truncation=True, max_length=max_length, padding=True, return_tensors="pt"))

    class Logits(torch.nn.Module):
        def __init__(self, names: list[str]):
            super().__init__()
            self.model, self.names = model, names

        def forward(self, *inputs):
            return self.model(**dict(zip(self.names, inputs))).logits

    return _compiled(Logits, encode, type(model).__name__, threads, int8)


def onnx_sentence_encoder(encoder, threads: int | None = None, int8: bool = False) -> Batch:
    """`texts -> sentence embeddings` of a sentence-transformers model (all its modules: pooling, normalisation),
    tokenized by the model itself. The rows are what `encoder.encode(texts)` returns."""
    import torch

    def encode(texts: Sequence[str]) -> dict:
        features = encoder.preprocess(list(texts))
        return {k: v for k, v in features.items() if isinstance(v, torch.Tensor)}

    class Embedding(torch.nn.Module):
        def __init__(self, names: list[str]):
            super().__init__()
            self.encoder, self.names = encoder, names

        def forward(self, *inputs):
            return self.encoder(dict(zip(self.names, inputs)))["sentence_embedding"]

    return _compiled(Embedding, encode, "sentence encoder", threads, int8)


def _compiled(wrapper, encode: Callable[[Sequence[str]], dict], what: str, threads: int | None,
              int8: bool = False) -> Batch:
    import onnxruntime as ort
    import torch

    example = encode(PROBE[:2])
    names = list(example)
    module = wrapper(names).eval()
    options = ort.SessionOptions()
    # the torch setting (OMP_NUM_THREADS) governs both runtimes; one server, one thread budget
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads leave the LLM its core
    # through a file: an in-memory export holds the graph twice more (the buffer and its bytes) at its peak
    with tempfile.TemporaryDirectory(prefix="convbot-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the tracer's notes on Python control flow it froze for these shapes
            torch.onnx.export(module, tuple(example[n] for n in names), str(path), input_names=names,
                              output_names=["out"], opset_version=17, dynamo=False,
                              dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "out": {0: "batch"}})
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(path, Path(tmp) / "int8.onnx", weight_type=QuantType.QInt8, per_channel=True)
            path = Path(tmp) / "int8.onnx"
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run_batch(texts: list[str]) -> np.ndarray:
        features = encode(texts)
        return session.run(None, {n: features[n].numpy() for n in names})[0]

    def run(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, session.get_outputs()[0].shape[-1]), dtype=np.float32)
        if int8:  # one text a pass: its activations' scales are its own, whatever else waits (see the module)
            return np.concatenate([run_batch([text]) for text in texts])
        return run_batch(texts)

    with torch.inference_mode():
        expected = torch.cat([module(*(encode([t])[n] for n in names)) for t in PROBE]).float().numpy()
        batched = module(*(encode(PROBE)[n] for n in names)).float().numpy()
    got = run(PROBE)
    error = float(max(np.abs(got - expected).max(), np.abs(got - batched).max()))
    tolerance = TOLERANCE
    if int8:  # each row's distance relative to the output's length (`relative_distance`)
        error, tolerance = float(relative_distance(got, expected).max()), INT8_TOLERANCE
    if not np.isfinite(error) or error > tolerance:
        raise ExportMismatch(f"the ONNX{' int8' if int8 else ''} export of the {what} differs from PyTorch by "
                             f"{error:.2g}{' of the output length' if int8 else ''} on the probe texts (tolerance {tolerance}): "
                             "serve it with encoder_runtime: torch")
    return run


def relative_distance(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Each row's distance from the reference, relative to the larger of the row's own length and the rows'
    root mean square length. A classifier undecided between its labels gives logits near zero for that text,
    and relative to their own length the same small int8 error is then huge (the tiny test bundle, whose guard
    can stop at an early, undecided checkpoint, was once refused at 0.57). The output's scale on the other rows
    still puts a broken graph near 1."""
    lengths = np.linalg.norm(expected, axis=-1)
    scale = np.maximum(lengths, np.sqrt(np.mean(lengths ** 2)))
    return np.linalg.norm(got - expected, axis=-1) / np.maximum(scale, 1e-6)


def in_onnx_runtime(predictor, int8: bool = False) -> None:
    """Move an `IntentPredictor`'s passes (the classifier's, and its novelty encoder's) to ONNX Runtime, and
    release the PyTorch copies of their weights (ONNX Runtime holds its own). The novelty encoder is exported
    from a copy of its own: the process's shared copy stays for training code."""
    embed = None
    if predictor.novelty is not None:
        encoder = predictor.base_encoder()
        embed = onnx_sentence_encoder(encoder, int8=int8)
        encoder.to("meta")
    predictor.replace_passes(onnx_classifier(predictor.model, predictor.tokenizer, predictor.max_length, int8=int8),
                             embed)
    predictor.model.to("meta")


def in_runtime(runtime: str, predictor) -> None:
    """An `IntentPredictor`'s passes where `runtime` (a bot's `encoder_runtime`) says."""
    if check_runtime(runtime) != "torch":
        in_onnx_runtime(predictor, int8=runtime == "onnx-int8")


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(f"encoder_runtime is {runtime!r}; it must be {', '.join(RUNTIMES[:-1])} or {RUNTIMES[-1]}")
    return runtime


def sentence_encoder_in(runtime: str, encoder) -> Batch:
    """`texts -> normalised sentence embeddings` of a sentence-transformers model, in that runtime; in ONNX
    Runtime the PyTorch copy of the weights is released."""
    if check_runtime(runtime) == "torch":
        return lambda texts: encoder.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    run = onnx_sentence_encoder(encoder, int8=runtime == "onnx-int8")
    encoder.to("meta")
    return run
