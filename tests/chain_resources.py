"""Resources for tests that materialize whole chains (a helper module: test files do not import conftest)."""

from __future__ import annotations

from pathlib import Path


def chain_resources(tmp_path: Path, encoder: Path, llm: Path) -> dict:
    """Resources for a whole-chain materialize(): SQLite MLflow, a DVC repo and remote, tiny base models."""
    from pipelines.resources import DvcResource, MlflowResource, ModelStoreResource

    return {
        "mlflow": MlflowResource(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
                                 artifact_root=str(tmp_path / "mlartifacts")),
        "dvc": DvcResource(repo_dir=str(tmp_path / "repo"), remote_url=str(tmp_path / "dvc-remote")),
        "model_store": ModelStoreResource(root=str(tmp_path / "models"), encoder=str(encoder), llm=str(llm)),
    }
