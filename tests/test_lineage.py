"""Lineage a person can follow: a recorded data version pulled on another machine, per-folder data
versions, code versions on runs, and DVC commands that wait for each other instead of failing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.resources import DvcResource, MlflowResource
from pipelines.settings import dvc_executable
from training.fileio import sha256_dir
from training.lineage import CodeVersion, code_version


def _write(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def test_another_machine_pulls_the_recorded_version_and_gets_the_same_hash(tmp_path):
    remote = tmp_path / "shared-remote"  # an s3:// or ssh:// remote in a team; a folder here
    machine_a = DvcResource(repo_dir=str(tmp_path / "a"), remote_url=str(remote))
    _write(machine_a.data_path, {"intents/train.parquet": "rows v1", "dialogs/train.jsonl": "{}"})
    version = machine_a.commit_data()
    intents_a = machine_a.folder_version("intents")
    content_a = sha256_dir(machine_a.data_path)

    # machine B has the repository (data.dvc and the DVC config as committed in git) but no data
    b = tmp_path / "b"
    b.mkdir()
    shutil.copy(tmp_path / "a" / "data.dvc", b / "data.dvc")
    shutil.copytree(tmp_path / "a" / ".dvc", b / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp", "config.local"))
    machine_b = DvcResource(repo_dir=str(b), remote_url=str(remote))
    assert machine_b.pull() == version
    assert sha256_dir(machine_b.data_path) == content_a
    assert machine_b.folder_version("intents") == intents_a

    # a change elsewhere in data/ leaves the intents folder's version alone
    _write(machine_a.data_path, {"dialogs/train.jsonl": '{"more": 1}'})
    assert machine_a.commit_data() != version
    assert machine_a.folder_version("intents") == intents_a
    _write(machine_a.data_path, {"intents/train.parquet": "rows v2"})
    machine_a.commit_data()
    assert machine_a.folder_version("intents") != intents_a


def test_a_dvc_command_waits_for_the_lock_another_run_holds(tmp_path):
    repo = DvcResource(repo_dir=str(tmp_path / "repo"), remote_url=str(tmp_path / "remote"))
    repo.ensure_repo()
    _write(repo.data_path, {"intents/train.parquet": "rows"})
    lock = Path(repo.repo_dir, ".dvc", "tmp", "lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    dvc_python = str(Path(dvc_executable()).parent / "python")
    holder = subprocess.Popen([dvc_python, "-c", "import sys, time, zc.lockfile; l = zc.lockfile.LockFile(sys.argv[1]); "
                               "print('locked', flush=True); time.sleep(7); l.close()", str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        version = repo.commit_data()  # DVC alone gives up after ~3 s; the resource retries with backoff
        assert time.monotonic() - started > 3
        assert version == repo.current_version()
    finally:
        holder.wait(timeout=30)
    impatient = DvcResource(repo_dir=repo.repo_dir, remote_url=repo.remote_url, lock_retries=0)
    holder = subprocess.Popen([dvc_python, "-c", "import sys, time, zc.lockfile; l = zc.lockfile.LockFile(sys.argv[1]); "
                               "print('locked', flush=True); time.sleep(8)", str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RuntimeError, match="lock"):
            impatient.commit_data()
    finally:
        holder.kill()
        holder.wait()


def test_every_mlflow_run_carries_the_code_version(tmp_path):
    mlflow = MlflowResource(tracking_uri=f"sqlite:///{tmp_path}/m.db", artifact_root=str(tmp_path / "art"))
    with mlflow.start_run("exp", "run", {"convbot.data_version": "abc"}) as run_id:
        pass
    tags = mlflow.client().get_run(run_id).data.tags
    current = code_version()
    assert tags["convbot.code_version"] == current.label
    assert tags["convbot.git_dirty"] in ("true", "false") and tags["convbot.data_version"] == "abc"
    assert tags["mlflow.source.git.commit"] == current.commit and len(current.commit) == 40


def test_code_version_outside_git_is_a_hash_of_the_sources():
    outside = CodeVersion("", False, "f" * 64)
    assert outside.label == "src-" + "f" * 16
    assert "mlflow.source.git.commit" not in outside.mlflow_tags()
    assert CodeVersion("abc", True, "0" * 64).label == "abc-dirty"


def test_the_dirty_flag_ignores_data_dvc(tmp_path):
    """data.dvc changes with every dataset the pipeline commits: that is data, not code."""
    proc = subprocess.run([sys.executable, "-c", "from training.lineage import CODE_PATHS; print(CODE_PATHS)"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert "data.dvc" not in proc.stdout and "training" in proc.stdout
