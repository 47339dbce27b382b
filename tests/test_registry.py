"""Champion promotion and rollback against a real MLflow registry (SQLite backend)."""

from __future__ import annotations

import itertools
import time

import mlflow
import pytest

from serving.registry import (
    CHAMPION, PROMOTED_TAG, ROLLED_BACK_TAG, alias_version, champion_history, promote_champion,
    restore_previous_champion,
)

_names = itertools.count()


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> mlflow.MlflowClient:
    # One database per module: creating the SQLite schema takes a few seconds.
    root = tmp_path_factory.mktemp("mlflow")
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow.db", registry_uri=f"sqlite:///{root}/mlflow.db")


@pytest.fixture
def model(client, tmp_path) -> str:
    """A fresh registered model with versions 1, 2 and 3."""
    name = f"intent-classifier-{next(_names)}"
    client.create_registered_model(name)
    for i in range(1, 4):
        artifacts = tmp_path / f"v{i}"
        artifacts.mkdir()
        (artifacts / "model.txt").write_text(str(i))
        mv = client.create_model_version(name, source=artifacts.as_uri(), run_id=None)
        assert str(mv.version) == str(i)
    return name


def v(version) -> str | None:
    return None if version is None else str(version)


def test_alias_version_missing_model(client):
    assert alias_version(client, "no-such-model", CHAMPION) is None


def test_alias_version_missing_alias(client, model):
    assert alias_version(client, model, CHAMPION) is None
    assert alias_version(client, model, "challenger") is None


def test_alias_version_existing(client, model):
    client.set_registered_model_alias(model, "challenger", "2")
    assert v(alias_version(client, model, "challenger")) == "2"


def test_promote_moves_the_alias_and_returns_previous(client, model):
    assert promote_champion(client, model, "1") is None
    assert v(alias_version(client, model, CHAMPION)) == "1"
    assert v(promote_champion(client, model, "2")) == "1"
    assert v(alias_version(client, model, CHAMPION)) == "2"
    assert v(client.get_model_version_by_alias(model, CHAMPION).version) == "2"
    tags = client.get_model_version(model, "2").tags
    assert PROMOTED_TAG in tags
    assert float(tags[PROMOTED_TAG]) == pytest.approx(time.time(), abs=60)


def test_champion_history_order(client, model):
    assert champion_history(client, model) == []
    promote_champion(client, model, "2")
    promote_champion(client, model, "1")
    promote_champion(client, model, "3")
    assert [v(x) for x in champion_history(client, model)] == ["2", "1", "3"]
    # re-promoting moves a version to the end
    promote_champion(client, model, "2")
    assert [v(x) for x in champion_history(client, model)] == ["1", "3", "2"]


def test_restore_walks_back_and_stops(client, model):
    for version in ("1", "2", "3"):
        promote_champion(client, model, version)

    got = restore_previous_champion(client, model)
    assert (v(got[0]), v(got[1])) == ("3", "2")
    assert v(alias_version(client, model, CHAMPION)) == "2"
    assert ROLLED_BACK_TAG in client.get_model_version(model, "3").tags
    assert [v(x) for x in champion_history(client, model)] == ["1", "2"]

    got = restore_previous_champion(client, model)
    assert (v(got[0]), v(got[1])) == ("2", "1")
    assert v(alias_version(client, model, CHAMPION)) == "1"
    assert [v(x) for x in champion_history(client, model)] == ["1"]

    with pytest.raises(RuntimeError) as info:
        restore_previous_champion(client, model)
    msg = str(info.value)
    assert model in msg and "version 1" in msg and "nothing to restore" in msg
    assert v(alias_version(client, model, CHAMPION)) == "1"


def test_restore_without_champion_raises(client, model):
    with pytest.raises(RuntimeError, match=f"'{model}' has no 'champion' alias"):
        restore_previous_champion(client, model)


def test_restore_with_a_single_champion_raises(client, model):
    promote_champion(client, model, "2")
    with pytest.raises(RuntimeError, match="only champion"):
        restore_previous_champion(client, model)


def test_version_promoted_again_after_rollback_is_usable(client, model):
    for version in ("1", "2", "3"):
        promote_champion(client, model, version)
    restore_previous_champion(client, model)  # 3 -> 2
    assert "3" not in [v(x) for x in champion_history(client, model)]

    assert v(promote_champion(client, model, "3")) == "2"
    assert ROLLED_BACK_TAG not in client.get_model_version(model, "3").tags
    assert [v(x) for x in champion_history(client, model)] == ["1", "2", "3"]
    assert v(alias_version(client, model, CHAMPION)) == "3"

    got = restore_previous_champion(client, model)
    assert (v(got[0]), v(got[1])) == ("3", "2")


def test_promotion_interrupted_before_tagging_still_rolls_back(client, model):
    promote_champion(client, model, "1")
    promote_champion(client, model, "2")
    # a run killed after moving the alias but before tagging the new champion
    client.set_registered_model_alias(model, CHAMPION, "3")
    got = restore_previous_champion(client, model)
    assert (v(got[0]), v(got[1])) == ("3", "2")
    assert v(alias_version(client, model, CHAMPION)) == "2"


def test_restore_champion_command(tmp_path, monkeypatch, capsys):
    """`make restore-champion` = `python -m pipelines.cli restore-champion --model NAME`."""
    from mlflow import MlflowClient

    from pipelines import cli

    uri = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(uri, registry_uri=uri)  # explicit: other tests set a global registry URI
    client.create_registered_model("cli-model")
    for _ in range(2):
        client.create_model_version("cli-model", source=tmp_path.as_uri())
    promote_champion(client, "cli-model", "1")
    promote_champion(client, "cli-model", "2")
    assert cli.main(["restore-champion", "--model", "cli-model"]) == 0
    assert "from version 2 back to version 1" in capsys.readouterr().out
    assert alias_version(client, "cli-model", "champion") == "1"
    assert cli.main(["restore-champion", "--model", "cli-model"]) == 1
    assert "only champion" in capsys.readouterr().err


# --- regression: rollback tags before it moves the alias -----------------------------------------


def test_alias_version_returns_a_str(client, model):
    client.set_registered_model_alias(model, CHAMPION, "2")
    assert alias_version(client, model, CHAMPION) == "2"
    assert isinstance(alias_version(client, model, CHAMPION), str)


def test_rollback_killed_after_tagging_is_finished_by_the_next_one(client, model):
    for version in ("1", "2", "3"):
        promote_champion(client, model, version)
    # the process died after tagging 3 as rolled back, before moving the alias
    client.set_model_version_tag(model, "3", ROLLED_BACK_TAG, f"{time.time():.6f}")
    assert alias_version(client, model, CHAMPION) == "3"
    assert restore_previous_champion(client, model) == ("3", "2")
    assert alias_version(client, model, CHAMPION) == "2"
    assert champion_history(client, model) == ["1", "2"]


class _DiesOnSecondWrite:
    """A client that forwards reads and dies on the second registry write of a rollback."""

    def __init__(self, client):
        self._client, self.writes = client, []

    def _write(self, method: str, *args):
        if self.writes:
            raise KeyboardInterrupt("killed")
        self.writes.append(method)
        return getattr(self._client, method)(*args)

    def set_model_version_tag(self, *args):
        return self._write("set_model_version_tag", *args)

    def set_registered_model_alias(self, *args):
        return self._write("set_registered_model_alias", *args)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_rollback_killed_between_its_two_writes_never_goes_forward(client, model):
    for version in ("1", "2", "3"):
        promote_champion(client, model, version)
    dying = _DiesOnSecondWrite(client)
    with pytest.raises(KeyboardInterrupt):
        restore_previous_champion(dying, model)
    assert dying.writes == ["set_model_version_tag"]  # the rolled-back tag is written first
    assert ROLLED_BACK_TAG in client.get_model_version(model, "3").tags
    # the next rollback finishes the interrupted one: 3 -> 2, not forward again to 3
    assert restore_previous_champion(client, model) == ("3", "2")
    assert alias_version(client, model, CHAMPION) == "2"
