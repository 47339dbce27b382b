"""The serving bundle: one folder holding everything the bot loads, pinned by a manifest.

`manifest.json` names each model by registry name and version, every file by its sha256, the data
version, the git commit (dirty flag) and the release gate's verdict. `verify` recomputes every checksum
and refuses a bundle whose files differ, are missing, or were added; only safetensors, JSON, YAML and
tokenizer text files are allowed (no pickles: loading a bundle never executes stored code).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from training.errors import ConvbotError
from training.fileio import atomic_dir, sha256_file

MANIFEST = "manifest.json"
ALLOWED_SUFFIXES = {".safetensors", ".json", ".yaml", ".yml", ".txt", ".model", ".jinja", ".md"}
FORBIDDEN_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".bin", ".joblib", ".npy", ".npz"}


class BundleError(ConvbotError):
    """A bundle that must not be loaded: a checksum differs, a file is missing, extra or not allowed."""


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST and "sessions.db" not in p.name)


def _check_suffix(rel: str) -> None:
    suffix = Path(rel).suffix.lower()
    if suffix in FORBIDDEN_SUFFIXES or (suffix and suffix not in ALLOWED_SUFFIXES):
        raise BundleError(f"{rel}: {suffix or 'no suffix'} files are not allowed in a bundle (safetensors, JSON, "
                          "YAML and tokenizer text only: nothing that runs code when loaded)")


def build_bundle(out_dir: str | os.PathLike, models: dict[str, str | os.PathLike | None], configs: dict[str, str | os.PathLike],
                 meta: dict) -> Path:
    """Copy `models` (name -> folder; None = left out) under models/ and `configs` (file name -> path) to the
    top, then write the manifest with every file's sha256 and `meta` (versions, data version, code, gate)."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        for name, src in models.items():
            if src is not None:
                shutil.copytree(src, tmp / "models" / name, ignore=shutil.ignore_patterns("*.pt", "*.pth", "*.bin",
                                                                                           "checkpoint-*", "__pycache__"))
        for name, src in configs.items():
            shutil.copyfile(src, tmp / name)
        files = {}
        for f in _files(tmp):
            rel = str(f.relative_to(tmp))
            _check_suffix(rel)
            files[rel] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
        manifest = {**meta, "files": files}
        manifest["bundle_sha256"] = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return out_dir


def verify(folder: str | os.PathLike) -> dict:
    """The manifest, once every file checks out; BundleError naming the first problems otherwise."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise BundleError(f"{folder}: no {MANIFEST}: not a serving bundle")
    manifest = json.loads((folder / MANIFEST).read_text())
    expected = manifest.get("files") or {}
    present = {str(p.relative_to(folder)) for p in _files(folder)}
    problems = []
    for rel in sorted(set(expected) - present):
        problems.append(f"{rel}: missing")
    for rel in sorted(present - set(expected)):
        problems.append(f"{rel}: not in the manifest")
    for rel in sorted(set(expected) & present):
        _check_suffix(rel)
        if sha256_file(folder / rel) != expected[rel]["sha256"]:
            problems.append(f"{rel}: sha256 differs from the manifest")
    if problems:
        raise BundleError(f"bundle {folder} refused: " + "; ".join(problems[:5]) +
                          (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
    return manifest


def download_registered(name: str, version: str, dst: str | os.PathLike, tracking_uri: str, registry_uri: str,
                        artifact: str = "bundle") -> Path:
    """The bundle of a registered model version (its pyfunc's `artifact`), downloaded once into `dst`/`artifact`.

    Found through the registry's download URI for the version, with the path its MLmodel gives the artifact: in
    MLflow 3 a version's `source` is a logged-model URI (`models:/m-...`) that takes no sub-path, and `models:/`
    URIs look the model up in the default registry whatever registry is passed. The download lands in a scratch
    folder first, so a killed one leaves nothing that looks like a bundle.
    """
    import tempfile

    import mlflow
    from mlflow.models import Model

    folder = Path(dst) / artifact
    if (folder / MANIFEST).is_file():
        return folder
    root = mlflow.MlflowClient(tracking_uri, registry_uri).get_model_version_download_uri(name, version)

    def fetch(path: str, into: str) -> Path:
        return Path(mlflow.artifacts.download_artifacts(f"{root.rstrip('/')}/{path}", dst_path=into,
                                                        tracking_uri=tracking_uri))

    with atomic_dir(folder) as tmp, tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        artifacts = Model.load(str(fetch("MLmodel", scratch))).flavors["python_function"].get("artifacts", {})
        if artifact not in artifacts:
            raise BundleError(f"{name} version {version} has no '{artifact}' artifact (it has {sorted(artifacts)})")
        for item in fetch(artifacts[artifact]["path"], scratch).iterdir():
            shutil.move(str(item), str(tmp / item.name))
    return folder
