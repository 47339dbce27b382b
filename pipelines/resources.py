"""Outside services as Dagster resources: MLflow tracking/registry, the DVC data repo, the model store.

Each has one class whose configuration picks the real or the local service (an http MLflow server
or a SQLite file; an S3/GCS/SSH DVC remote or a local folder); `pipelines/settings.py` chooses.
"""


import contextlib
import hashlib
import json
import os
import random
import subprocess
import time
from pathlib import Path
from typing import Iterator

import yaml
from dagster import ConfigurableResource
from pydantic import Field

from training.base_models import PACKAGED_ENCODER, PACKAGED_LLM, ResolvedModel, resolve_encoder, resolve_llm
from training.lineage import code_version


class MlflowResource(ConfigurableResource):
    """A thin wrapper around `MlflowClient` and MLflow's fluent runs."""

    tracking_uri: str = Field(description="e.g. sqlite:///state/mlflow.db or http://mlflow:5000")
    registry_uri: str = Field(default="", description="defaults to the tracking URI")
    artifact_root: str = Field(default="", description="artifact location for new experiments (local folder or URI)")
    ui_url: str = Field(default="http://127.0.0.1:5000", description="base URL of the MLflow UI, for run links")

    def activate(self):
        """Point MLflow's fluent API (used by flavor `log_model`/`load_model`) at this server."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)
        return mlflow

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(self.tracking_uri, self.registry_uri or self.tracking_uri)

    def experiment_id(self, name: str) -> str:
        client = self.client()
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = None
        if self.artifact_root:
            root = self.artifact_root
            location = root if "://" in root else Path(root, name).resolve().as_uri()
        return client.create_experiment(name, artifact_location=location)

    @contextlib.contextmanager
    def start_run(self, experiment: str, run_name: str, tags: dict[str, str]) -> Iterator[str]:
        """An active MLflow run (fluent API, so flavor `log_model` calls land in it), tagged with the code
        version (git commit and dirty flag); yields its id."""
        mlflow = self.activate()
        tags = {**code_version().mlflow_tags(), **tags}
        with mlflow.start_run(experiment_id=self.experiment_id(experiment), run_name=run_name, tags=tags) as run:
            yield run.info.run_id

    @contextlib.contextmanager
    def resume_run(self, run_id: str) -> Iterator[str]:
        """Log more into an existing run (evaluation results into the training run)."""
        mlflow = self.activate()
        with mlflow.start_run(run_id=run_id):
            yield run_id

    def load_transformers(self, model_uri: str) -> dict:
        """Model and tokenizer of a transformers-flavor model, e.g. `models:/NAME@champion`."""
        return self.activate().transformers.load_model(model_uri, return_type="components")

    def find_finished_run(self, experiment: str, tags: dict[str, str]) -> str | None:
        """The newest finished run carrying all `tags`, used to skip work that is already done."""
        exp = self.client().get_experiment_by_name(experiment)
        if exp is None:
            return None
        query = " and ".join([f"tags.`{k}` = '{v}'" for k, v in tags.items()] + ["attributes.status = 'FINISHED'"])
        runs = self.client().search_runs([exp.experiment_id], query, order_by=["attributes.start_time DESC"], max_results=1)
        return runs[0].info.run_id if runs else None

    def note_version(self, model_info) -> str:
        """Note the version just registered by a `log_model` on the active run (tag `convbot.model_version`,
        which re-runs read back); returns it. It gets no alias here: `challenger` comes from its gate."""
        import mlflow

        version = str(model_info.registered_model_version)
        mlflow.set_tag("convbot.model_version", version)
        return version

    def load_logged_dict(self, run_id: str, artifact: str) -> dict:
        """A JSON artifact logged with `mlflow.log_dict`, e.g. an evaluation report to reuse."""
        return self.activate().artifacts.load_dict(f"runs:/{run_id}/{artifact}")

    def run_url(self, run_id: str) -> str:
        run = self.client().get_run(run_id)
        return f"{self.ui_url.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"


class DvcResource(ConfigurableResource):
    """The DVC repository that versions `data/`; `commit_data` writes `data.dvc` and pushes.

    DVC runs from its own environment (`.venv-dvc`, see the Makefile) through its CLI."""

    repo_dir: str = Field(description="the folder holding .dvc/ and data.dvc (the project root)")
    remote_name: str = "local"
    remote_url: str = Field(description="a local folder, or s3://, gs://, ssh:// ... (needs dvc[s3] etc.)")
    data_dir: str = "data"
    dvc_bin: str = Field(default="", description="the dvc executable; empty = $CONVBOT_DVC, else .venv-dvc/bin/dvc")
    lock_retries: int = Field(default=8, description="retries (with backoff) while another DVC process holds the lock")

    @property
    def data_path(self) -> Path:
        return Path(self.repo_dir, self.data_dir)

    def _dvc(self, *args: str) -> str:
        from .settings import dvc_executable

        env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
        cmd = [self.dvc_bin or dvc_executable(), *args]
        for attempt in range(self.lock_retries + 1):
            proc = subprocess.run(cmd, cwd=self.repo_dir, env=env, capture_output=True, text=True)
            if proc.returncode == 0:
                return proc.stdout
            # a schedule and a sensor may run at once: DVC's repo lock is held for the length of a command
            if "unable to acquire lock" not in proc.stderr.lower() or attempt == self.lock_retries:
                break
            time.sleep(min(0.5 * 2 ** attempt, 15.0) * (1 + random.random()))
        raise RuntimeError(f"`dvc {' '.join(args)}` failed in {self.repo_dir}:\n{proc.stderr.strip()}")

    def ensure_repo(self) -> None:
        root = Path(self.repo_dir)
        root.mkdir(parents=True, exist_ok=True)
        if not (root / ".dvc").is_dir():
            in_git = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True,
                                    text=True).returncode == 0
            self._dvc("init", "--quiet", *([] if in_git else ["--no-scm"]))
        url = self.remote_url
        if "://" not in url:
            url = str(Path(url).resolve())
            Path(url).mkdir(parents=True, exist_ok=True)
        # --local keeps a machine-specific remote out of the committed .dvc/config
        self._dvc("remote", "add", "--local", "--force", "--default", self.remote_name, url)

    def commit_data(self) -> str:
        """Track `data/` in data.dvc, push it to the remote, and return the data version (its md5)."""
        self.ensure_repo()
        self._dvc("add", self.data_dir)  # not --quiet: it would hide the error, the lock one included
        self._dvc("push")
        return self.current_version()

    def pull(self) -> str:
        """Fetch the version `data.dvc` names from the remote into `data/` (another machine's checkout)."""
        self.ensure_repo()
        self._dvc("pull")
        return self.current_version()

    def current_version(self) -> str:
        pointer = Path(self.repo_dir, f"{self.data_dir}.dvc")
        if not pointer.exists():
            raise FileNotFoundError(f"{pointer} does not exist: no data has been committed yet")
        outs = yaml.safe_load(pointer.read_text())["outs"][0]
        return outs["md5"].removesuffix(".dir")

    def folder_version(self, subdir: str) -> str:
        """The version of one folder of `data/` (e.g. `intents`), from the md5s DVC recorded for its files in
        the committed `data/` version: it changes only when that folder's content does (a Dagster DataVersion)."""
        listing = Path(self.repo_dir, ".dvc", "cache", "files", "md5")
        digest = self.current_version()
        manifest = json.loads((listing / digest[:2] / f"{digest[2:]}.dir").read_text())
        files = sorted((e["relpath"], e["md5"]) for e in manifest if e["relpath"].startswith(subdir.rstrip("/") + "/"))
        if not files:
            raise FileNotFoundError(f"DVC version {digest} of {self.data_dir}/ has no files under {subdir}/")
        return hashlib.sha256(json.dumps(files).encode()).hexdigest()[:32]


class ModelStoreResource(ConfigurableResource):
    """Where base models are imported and training checkpoints live."""

    root: str = Field(description="folder for imported base models and checkpoints")
    encoder: str = Field(default=PACKAGED_ENCODER, description="packaged:minilm, a hub id, or a local folder")
    llm: str = Field(default=PACKAGED_LLM, description="packaged:smollm2, a hub id, or a local folder")

    def resolve_encoder(self) -> ResolvedModel:
        return resolve_encoder(self.encoder)

    def resolve_llm(self) -> ResolvedModel:
        return resolve_llm(self.llm, Path(self.root, "base"))

    def work_dir(self, kind: str, key: str) -> Path:
        path = Path(self.root, "work", kind, key)
        path.mkdir(parents=True, exist_ok=True)
        return path
