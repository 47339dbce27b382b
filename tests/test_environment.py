"""The commands a user runs, each from its own environment, as subprocesses; every project module imports.

`pip check` passing did not catch DVC's antlr 4.9 pin breaking Dagster's selection parser: these run
the real console entry points instead.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import dvc_executable

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PACKAGES = ["pipelines", "assets", "training", "evals", "serving", "benchmarks"]


def _run(cmd: list[str], tmp_path: Path, timeout: float = 300, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "CONVBOT_STATE": str(tmp_path / "state"),
                "DVC_NO_ANALYTICS": "1", **env}
    (tmp_path / "dagster").mkdir(exist_ok=True)
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_dagster_asset_materialize_with_a_string_selection(tmp_path):
    proc = _run([str(BIN / "dagster"), "asset", "materialize", "-m", "pipelines.definitions",
                 "--select", "intent_catalog"], tmp_path)
    assert "RUN_SUCCESS" in proc.stdout + proc.stderr


def test_string_selections_parse_in_process():
    from dagster import AssetSelection

    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = AssetSelection.from_string("key:intent_* and not key:intent_catalog").resolve(graph)
    assert {k.to_user_string() for k in keys} >= {"intent_dataset", "intent_model", "intent_eval"}
    assert "intent_catalog" not in {k.to_user_string() for k in keys}


def test_dagster_definitions_validate(tmp_path):
    proc = _run([str(BIN / "dagster"), "definitions", "validate", "-m", "pipelines.definitions"], tmp_path)
    assert "passed validation" in (proc.stdout + proc.stderr).lower()


def test_mlflow_cli(tmp_path):
    proc = _run([str(BIN / "mlflow"), "--version"], tmp_path)
    assert "version" in proc.stdout.lower()


def test_dvc_cli_adds_and_pushes_from_its_own_environment(tmp_path):
    dvc = dvc_executable()
    assert Path(dvc).resolve().parent != BIN.resolve(), "DVC must not live in the main environment"
    _run([dvc, "--version"], tmp_path)
    repo, remote = tmp_path / "repo", tmp_path / "remote"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "rows.csv").write_text("text,intent\nhello,greeting\n")
    for args in (["init", "--no-scm", "-q"], ["remote", "add", "-d", "local", str(remote)], ["add", "-q", "data"],
                 ["push", "-q"]):
        proc = subprocess.run([dvc, *args], cwd=repo, capture_output=True, text=True,
                              env={**os.environ, "DVC_NO_ANALYTICS": "1"})
        assert proc.returncode == 0, f"dvc {' '.join(args)}: {proc.stderr}"
    assert (repo / "data.dvc").exists() and any(p.is_file() for p in remote.rglob("*"))


def test_main_environment_has_no_dvc_and_a_new_antlr():
    from importlib.metadata import PackageNotFoundError, version

    with pytest.raises(PackageNotFoundError):
        version("dvc")
    major, minor = map(int, version("antlr4-python3-runtime").split(".")[:2])
    assert (major, minor) >= (4, 10)


@pytest.mark.parametrize("venv", [".venv-dvc", ".venv-sky"])
def test_side_environments_pass_pip_check(venv):
    python = ROOT / venv / "bin" / "python"
    assert python.exists(), f"{python} missing: `make install` / `make test` build it"
    proc = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sky_cli_runs_from_its_environment(tmp_path):
    sky = Path(os.environ.get("CONVBOT_SKY_PYTHON") or ROOT / ".venv-sky" / "bin" / "python").parent / "sky"
    proc = _run([str(sky), "--help"], tmp_path)
    assert "launch" in proc.stdout


def _project_modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}.")]
    return names


def test_every_project_module_imports():
    modules = _project_modules()
    assert len(modules) > 40, modules
    failures = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - collect every failure, not just the first
            failures[name] = repr(exc)
    assert not failures, failures
