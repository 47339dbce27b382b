"""Which code produced a result: the git commit with a dirty flag, or a hash of the sources outside git."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("pipelines", "assets", "training", "evals", "serving", "configs")
# what counts as a code change for the dirty flag: data.dvc changes with every dataset and is recorded
# on its own as the data version
CODE_PATHS = (*SOURCE_DIRS, "benchmarks", "pyproject.toml", "requirements.lock", "Makefile")


@dataclass(frozen=True)
class CodeVersion:
    commit: str  # git commit, or "" outside a git checkout
    dirty: bool  # uncommitted changes to tracked or new files
    source_sha256: str  # hash of the project's sources: identifies the code when there is no git

    @property
    def label(self) -> str:
        if self.commit:
            return self.commit + ("-dirty" if self.dirty else "")
        return f"src-{self.source_sha256[:16]}"

    def mlflow_tags(self) -> dict[str, str]:
        tags = {"convbot.code_version": self.label, "convbot.git_commit": self.commit or "none (not a git checkout)",
                "convbot.git_dirty": str(self.dirty).lower(), "convbot.source_sha256": self.source_sha256}
        if self.commit:
            tags["mlflow.source.git.commit"] = self.commit
        return tags


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True)


def source_sha256(root: Path = PROJECT_ROOT) -> str:
    h = hashlib.sha256()
    for d in SOURCE_DIRS:
        for f in sorted((root / d).rglob("*")):
            if f.is_file() and f.suffix in (".py", ".yaml", ".yml", ".json") and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def code_version() -> CodeVersion:
    try:
        head = _git("rev-parse", "HEAD")
    except FileNotFoundError:  # no git binary
        head = None
    commit = head.stdout.strip() if head is not None and head.returncode == 0 else ""
    dirty = bool(commit) and bool(_git("status", "--porcelain", "--", *CODE_PATHS).stdout.strip())
    return CodeVersion(commit, dirty, source_sha256())
