"""Champion promotion in the MLflow model registry, with a history that allows a one-command rollback.

The history lives on the model versions themselves (tag `convbot.champion_promoted_at`). Moving
the alias is one registry call and happens first; the tag follows. A run killed in between leaves
the new champion untagged, and a rollback still finds the previous champion as the newest tagged
version that is not the current one.
"""

from __future__ import annotations

import time

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION = "champion"
CHALLENGER = "challenger"
PROMOTED_TAG = "convbot.champion_promoted_at"
ROLLED_BACK_TAG = "convbot.champion_rolled_back_at"


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version behind an alias, or None when the model or alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def promote_champion(client: MlflowClient, name: str, version: str) -> str | None:
    """Move `champion` to `version`; returns the previous champion version."""
    previous = alias_version(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, PROMOTED_TAG, f"{time.time():.6f}")
    if ROLLED_BACK_TAG in (client.get_model_version(name, version).tags or {}):
        client.delete_model_version_tag(name, version, ROLLED_BACK_TAG)
    return previous


def champion_history(client: MlflowClient, name: str) -> list[str]:
    """Versions that have been champion and not rolled back, oldest first."""
    versions = client.search_model_versions(f"name = '{name}'")
    promoted = [
        (float(v.tags[PROMOTED_TAG]), str(v.version))
        for v in versions
        if PROMOTED_TAG in (v.tags or {}) and ROLLED_BACK_TAG not in (v.tags or {})
    ]
    return [v for _, v in sorted(promoted)]


def restore_previous_champion(client: MlflowClient, name: str) -> tuple[str, str]:
    """Roll `champion` back to the version that held it before; returns (from, to)."""
    current = alias_version(client, name, CHAMPION)
    if current is None:
        raise RuntimeError(f"registered model '{name}' has no '{CHAMPION}' alias to roll back")
    history = [v for v in champion_history(client, name) if v != current]
    if not history:
        raise RuntimeError(f"'{name}' version {current} is the only champion so far: nothing to restore")
    target = history[-1]
    # tag first: a rollback killed in between is finished by the next one, never reversed
    client.set_model_version_tag(name, current, ROLLED_BACK_TAG, f"{time.time():.6f}")
    client.set_registered_model_alias(name, CHAMPION, target)
    return current, target
