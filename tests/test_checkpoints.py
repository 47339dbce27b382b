"""Which checkpoint a resume trusts, and which model folders count as whole."""

from __future__ import annotations

import json

import torch
from safetensors.torch import save_file

from training.checkpoints import MANIFEST, checkpoint_problems, is_complete_model_dir, resume_point, write_manifest


def _checkpoint(root, step: int, manifest: bool = True):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32)}, str(folder / "model.safetensors"))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if manifest:
        write_manifest(folder)
    return folder


def test_newest_whole_checkpoint_wins(tmp_path):
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 10)
    assert resume_point(tmp_path).endswith("checkpoint-10")  # numeric, not lexical, order


def test_killed_before_the_manifest(tmp_path):
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4, manifest=False)
    assert resume_point(tmp_path).endswith("checkpoint-2")


def test_truncated_missing_or_altered_files(tmp_path):
    _checkpoint(tmp_path, 2)
    bad = _checkpoint(tmp_path, 4)
    (bad / "model.safetensors").write_bytes((bad / "model.safetensors").read_bytes()[:40])
    assert resume_point(tmp_path).endswith("checkpoint-2")
    assert "bytes" in checkpoint_problems(bad)[0]
    (bad / "model.safetensors").unlink()
    assert checkpoint_problems(bad) == ["model.safetensors: missing"]
    state = _checkpoint(tmp_path, 6) / "trainer_state.json"
    state.write_text(state.read_text().replace("6", "7"))  # same size, other content
    assert "differs" in checkpoint_problems(state.parent)[0]
    assert resume_point(tmp_path).endswith("checkpoint-2")


def test_nothing_to_resume(tmp_path):
    assert resume_point(tmp_path / "missing") is None
    _checkpoint(tmp_path, 2, manifest=False)
    assert resume_point(tmp_path) is None


def test_a_model_folder_with_a_config_but_broken_weights_is_not_whole(tmp_path):
    folder = _checkpoint(tmp_path, 1)
    assert not is_complete_model_dir(folder)  # no config.json
    (folder / "config.json").write_text("{}")
    assert is_complete_model_dir(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-20])
    assert not is_complete_model_dir(folder)
    assert (folder / MANIFEST).exists()
