"""The one place where the deployment is chosen: local state folder by default, real services by env.

| variable | default | what |
| CONVBOT_STATE | <project>/state | MLflow DB, artifacts, Dagster home, DVC remote, model store |
| MLFLOW_TRACKING_URI | sqlite:///<state>/mlflow.db | an http(s) MLflow server instead |
| CONVBOT_DVC_REMOTE | <state>/dvc-remote | s3://bucket/path, gs://..., ssh://... |
| CONVBOT_ENCODER / CONVBOT_LLM | packaged:minilm / packaged:smollm2 | hub id or local folder |
| CONVBOT_REFERENCE_DATA | <project>/../shared/datasets | CLINC150 and XSTest (`make reference-data` fetches them) |
| CONVBOT_DVC | <project>/.venv-dvc/bin/dvc | the DVC executable |
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _path(value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


def state_dir() -> Path:
    """Read on each call, so that a test (or a second deployment) can point it elsewhere."""
    return _path(os.environ.get("CONVBOT_STATE", "state"))


def dvc_executable() -> str:
    """DVC's CLI from its own environment: $CONVBOT_DVC, else the project's .venv-dvc, else `dvc` on PATH."""
    import shutil

    candidates = [os.environ.get("CONVBOT_DVC", ""), str(PROJECT_ROOT / ".venv-dvc" / "bin" / "dvc"),
                  shutil.which("dvc") or ""]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    raise FileNotFoundError("DVC is not installed: `make install` creates .venv-dvc with it "
                            "(or point CONVBOT_DVC at a dvc executable)")


def default_resources() -> dict:
    from training.base_models import PACKAGED_ENCODER, PACKAGED_LLM

    from .resources import DvcResource, MlflowResource, ModelStoreResource

    state = state_dir()

    return {
        "mlflow": MlflowResource(
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{state / 'mlflow.db'}"),
            artifact_root=os.environ.get("CONVBOT_MLFLOW_ARTIFACTS", str(state / "mlartifacts")),
            ui_url=os.environ.get("CONVBOT_MLFLOW_UI", "http://127.0.0.1:5000"),
        ),
        "dvc": DvcResource(
            repo_dir=str(PROJECT_ROOT),
            remote_url=os.environ.get("CONVBOT_DVC_REMOTE", str(state / "dvc-remote")),
        ),
        "model_store": ModelStoreResource(
            root=str(state / "models"),
            encoder=os.environ.get("CONVBOT_ENCODER", PACKAGED_ENCODER),
            llm=os.environ.get("CONVBOT_LLM", PACKAGED_LLM),
        ),
    }


REFERENCE_PREFIX = "reference:"


def reference_data_dir() -> Path:
    """The folder holding the public reference datasets (CLINC150, XSTest)."""
    return _path(os.environ.get("CONVBOT_REFERENCE_DATA", "../shared/datasets"))


def reference_file(name: str) -> Path:
    """A reference file by its name in `training.reference_data.FILES`, e.g. 'clinc150/data_full.json'."""
    from training.reference_data import locate

    return locate(reference_data_dir(), name)


def project_path(value: str) -> Path:
    """Config paths are relative to the project root, whatever the working directory;
    `reference:NAME` is a file of the reference data folder."""
    if value.startswith(REFERENCE_PREFIX):
        return reference_file(value.removeprefix(REFERENCE_PREFIX))
    return _path(value)
