"""Checkpoints that a resume can trust: each carries a manifest of its files, written once it is whole.

`transformers.trainer_utils.get_last_checkpoint` returns the highest `checkpoint-N` folder even when
a kill left it half-written, and every retry then fails on it. Here the Trainer callback writes
`convbot_checkpoint.json` (size and sha256 of every file) after the Trainer has saved a checkpoint;
`resume_point` takes the newest checkpoint whose files still match their manifest and passes over the
others (killed mid-save, truncated, or altered since), so a re-run resumes from the last good one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zipfile
from pathlib import Path

from .fileio import atomic_write_json, sha256_file

log = logging.getLogger(__name__)

MANIFEST = "convbot_checkpoint.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def write_manifest(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    files = {str(f.relative_to(folder)): {"size": f.stat().st_size, "sha256": sha256_file(f)}
             for f in sorted(folder.rglob("*")) if f.is_file() and f.name != MANIFEST}
    return atomic_write_json(folder / MANIFEST, {"files": files})


def _readable(path: Path) -> str | None:
    """Why a weights/state file cannot be read, or None; cheap structural checks."""
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                    f.get_slice(key)  # header offsets are checked against the file size
        elif path.suffix in (".pt", ".bin", ".pth") and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                z.infolist()
        elif path.suffix == ".json":
            json.loads(path.read_text())
    except Exception as exc:  # noqa: BLE001 - any failure to read means "not whole"
        return f"{path.name}: {exc.__class__.__name__}: {exc}"
    return None


def checkpoint_problems(folder: str | os.PathLike, deep: bool = True) -> list[str]:
    """Why `folder` is not a whole checkpoint (empty list when it is)."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [f"{folder.name}: no {MANIFEST} (the save did not finish)"]
    try:
        files = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError) as exc:
        return [f"{folder.name}: unreadable manifest ({exc})"]
    problems = []
    for rel, meta in files.items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != meta["size"]:
            problems.append(f"{rel}: {path.stat().st_size} bytes, the manifest says {meta['size']}")
        elif deep and sha256_file(path) != meta["sha256"]:
            problems.append(f"{rel}: content differs from the manifest")
    return problems


def resume_point(output_dir: str | os.PathLike) -> str | None:
    """The newest whole checkpoint under `output_dir`, or None to start afresh."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in output_dir.iterdir()
                    if p.is_dir() and (m := _CHECKPOINT.match(p.name))), reverse=True)
    for _, path in found:
        problems = checkpoint_problems(path)
        if not problems:
            return str(path)
        log.warning("not resuming from %s: %s", path, "; ".join(problems[:3]))
    return None


def is_complete_model_dir(folder: str | os.PathLike) -> bool:
    """A `save_pretrained` folder that can be loaded: its config and every weights file read whole."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        return False
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not weights:
        return False
    return not any(_readable(p) for p in [folder / "config.json", *weights])


def manifest_callback():
    """A Trainer callback that writes the manifest of each checkpoint once the Trainer has saved it."""
    from transformers import TrainerCallback

    class CheckpointManifest(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                folder = Path(args.output_dir, f"checkpoint-{state.global_step}")
                if folder.is_dir():
                    write_manifest(folder)
            return control

    return CheckpointManifest()
