"""Aliases move only on a recorded, passed verdict; rollbacks stay rolled back; every move is in one history.

Against a real MLflow registry (SQLite backend)."""

from __future__ import annotations

import itertools
import json
import time

import mlflow
import pytest

from evals.gate import GateSpec, Regression, Threshold, Verdict, load_gate_specs
from serving.registry import (
    CHALLENGER,
    CHAMPION,
    ROLLED_BACK_TAG,
    VERDICT_TAG,
    PromotionRefused,
    alias_version,
    champion_history,
    format_history,
    history,
    move_alias,
    record_verdict,
    restore_previous_champion,
)

_names = itertools.count()
FLOOR = Threshold("accuracy", ">", 0.92)


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


@pytest.fixture
def specs(model) -> dict[str, GateSpec]:
    return {"intent_gate": GateSpec("intent_gate", (model,), (FLOOR,), Regression())}


def verdict(model: str, version: str, passed: bool = True, accuracy: float = 0.95,
            threshold: float = 0.92, override: str = "", **changes) -> Verdict:
    fields = dict(gate="intent_gate", model=model, version=version, passed=passed, metrics={"accuracy": accuracy},
                  thresholds=(Threshold("accuracy", ">", threshold),), reasons=(f"accuracy {accuracy}",),
                  data_version="d" * 32, code_version="abc123", evaluated_at=time.time(), override_reason=override)
    fields.update(changes)
    return Verdict(**fields)


def promote(client, model, version, specs, **kw):
    record_verdict(client, verdict(model, version))
    return move_alias(client, model, CHAMPION, version, actor="test", reason="gate passed", specs=specs, **kw)


# --- the verdict is read by the promotion code itself --------------------------------------------


def test_no_verdict_no_promotion(client, model, specs):
    with pytest.raises(PromotionRefused, match="no recorded verdict of gate 'intent_gate'"):
        move_alias(client, model, CHAMPION, "1", actor="test", reason="asked", specs=specs)
    assert alias_version(client, model, CHAMPION) is None


def test_a_failed_verdict_is_refused_with_its_reasons(client, model, specs):
    record_verdict(client, verdict(model, "1", passed=False, accuracy=0.5, reasons=("accuracy 0.5000 fails > 0.92",)))
    with pytest.raises(PromotionRefused, match="failed gate 'intent_gate': accuracy 0.5000 fails"):
        move_alias(client, model, CHAMPION, "1", actor="test", reason="asked", specs=specs)
    with pytest.raises(PromotionRefused):
        move_alias(client, model, CHALLENGER, "1", actor="test", reason="asked", specs=specs)
    assert alias_version(client, model, CHAMPION) is None and alias_version(client, model, CHALLENGER) is None


def test_a_verdict_for_another_version_does_not_count(client, model, specs):
    record_verdict(client, verdict(model, "2"))
    with pytest.raises(PromotionRefused, match="version 1 has no recorded verdict"):
        move_alias(client, model, CHAMPION, "1", actor="test", reason="asked", specs=specs)
    # a verdict copied onto the wrong version is caught too
    client.set_model_version_tag(model, "1", VERDICT_TAG.format(gate="intent_gate"),
                                 json.dumps(verdict(model, "2").to_dict()))
    with pytest.raises(PromotionRefused, match="is for .* version 2"):
        move_alias(client, model, CHAMPION, "1", actor="test", reason="asked", specs=specs)


def test_an_incomplete_verdict_is_refused(client, model, specs):
    with pytest.raises(ValueError, match="data_version"):
        record_verdict(client, verdict(model, "1", data_version=""))
    client.set_model_version_tag(model, "1", VERDICT_TAG.format(gate="intent_gate"),
                                 json.dumps(verdict(model, "1", code_version="").to_dict()))
    with pytest.raises(PromotionRefused, match="does not record code_version"):
        move_alias(client, model, CHAMPION, "1", actor="test", reason="asked", specs=specs)


def test_thresholds_below_the_floor_need_a_recorded_override(client, model, specs):
    record_verdict(client, verdict(model, "1", accuracy=0.85, threshold=0.80))
    with pytest.raises(PromotionRefused, match="below the project floors"):
        move_alias(client, model, CHAMPION, "1", actor="test", reason="asked", specs=specs)
    record_verdict(client, verdict(model, "1", accuracy=0.85, threshold=0.80, override="pilot with 3 users"))
    move_alias(client, model, CHAMPION, "1", actor="test", reason="asked", specs=specs)
    assert alias_version(client, model, CHAMPION) == "1"
    last = history(client).records(model=model)[-1].fields
    assert last["override_reason"] == "pilot with 3 users" and last["gate_metrics"] == {"accuracy": 0.85}


def test_a_model_without_a_gate_cannot_be_promoted(client, model):
    record_verdict(client, verdict(model, "1"))
    with pytest.raises(Exception, match="no gate"):
        move_alias(client, model, CHAMPION, "1", actor="test", reason="asked", specs={})


# --- history ------------------------------------------------------------------------------------


def test_every_move_is_recorded_once(client, model, specs):
    assert promote(client, model, "1", specs) is None
    assert promote(client, model, "2", specs) == "1"
    assert promote(client, model, "2", specs) == "2"  # already there: nothing to record
    records = history(client).records(model=model)
    assert [(r.fields["from"], r.fields["to"]) for r in records] == [("", "1"), ("1", "2")]
    first = records[0].fields
    assert first["actor"] == "test" and first["reason"] == "gate passed" and first["alias"] == CHAMPION
    assert first["gate"] == "intent_gate" and first["data_version"] == "d" * 32 and first["code_version"] == "abc123"
    assert history(client).broken_links() == []
    lines = format_history(client, model)
    assert len(lines) == 2 and f"{model}@champion: 1 -> 2" in lines[1] and "by test: gate passed" in lines[1]


def test_champion_history_order(client, model, specs):
    assert champion_history(client, model) == []
    for version in ("2", "1", "3"):
        promote(client, model, version, specs)
    assert champion_history(client, model) == ["2", "1", "3"]
    promote(client, model, "2", specs)  # re-promoting moves a version to the end
    assert champion_history(client, model) == ["1", "3", "2"]


# --- rollback -----------------------------------------------------------------------------------


def test_restore_walks_back_and_stops(client, model, specs):
    for version in ("1", "2", "3"):
        promote(client, model, version, specs)
    assert restore_previous_champion(client, model, specs=specs) == ("3", "2")
    assert alias_version(client, model, CHAMPION) == "2"
    assert ROLLED_BACK_TAG in client.get_model_version(model, "3").tags
    assert champion_history(client, model) == ["1", "2"]
    assert restore_previous_champion(client, model, specs=specs) == ("2", "1")
    with pytest.raises(PromotionRefused, match="nothing to restore"):
        restore_previous_champion(client, model, specs=specs)
    assert alias_version(client, model, CHAMPION) == "1"
    rollbacks = [r.fields for r in history(client).records(model=model) if r.fields.get("rollback")]
    assert [(f["from"], f["to"]) for f in rollbacks] == [("3", "2"), ("2", "1")]


def test_restore_without_champion_raises(client, model, specs):
    with pytest.raises(PromotionRefused, match=f"'{model}' has no 'champion' alias"):
        restore_previous_champion(client, model, specs=specs)


def test_a_rolled_back_version_stays_rolled_back(client, model, specs):
    promote(client, model, "1", specs)
    promote(client, model, "2", specs)
    restore_previous_champion(client, model, specs=specs)  # 2 -> 1
    # the next unchanged pipeline run passes the same gate again: it must not re-promote version 2
    record_verdict(client, verdict(model, "2"))
    for alias in (CHAMPION, CHALLENGER):
        with pytest.raises(PromotionRefused, match="was rolled back"):
            move_alias(client, model, alias, "2", actor="dagster run", reason="gate passed", specs=specs)
    assert alias_version(client, model, CHAMPION) == "1"
    assert ROLLED_BACK_TAG in client.get_model_version(model, "2").tags
    # a person who names it brings it back, and that is recorded
    move_alias(client, model, CHAMPION, "2", actor="cli promote", reason="fixed upstream", specs=specs, explicit=True)
    assert alias_version(client, model, CHAMPION) == "2"
    assert ROLLED_BACK_TAG not in client.get_model_version(model, "2").tags
    assert history(client).records(model=model)[-1].fields["reinstated"] is True


def test_promotion_interrupted_before_recording_still_rolls_back(client, model, specs):
    promote(client, model, "1", specs)
    promote(client, model, "2", specs)
    client.set_registered_model_alias(model, CHAMPION, "3")  # killed after the alias move, before history
    assert restore_previous_champion(client, model, specs=specs) == ("3", "2")


def test_rollback_killed_after_tagging_is_finished_by_the_next_one(client, model, specs):
    for version in ("1", "2", "3"):
        promote(client, model, version, specs)
    client.set_model_version_tag(model, "3", ROLLED_BACK_TAG, f"{time.time():.6f}")  # died before the alias moved
    assert restore_previous_champion(client, model, specs=specs) == ("3", "2")
    assert champion_history(client, model) == ["1", "2"]


# --- the command line ---------------------------------------------------------------------------


def test_history_promote_and_restore_commands(tmp_path, monkeypatch, capsys):
    from mlflow import MlflowClient

    from pipelines import cli

    uri = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(uri, registry_uri=uri)  # explicit: other tests set a global registry URI
    name = "intent-classifier"  # covered by configs/gates.yaml
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, source=tmp_path.as_uri())
    assert cli.main(["promote", "--model", name, "--version", "1", "--reason", "first"]) == 1
    assert "no recorded verdict" in capsys.readouterr().err
    floors = load_gate_specs()["intent_gate"].floors  # the project's own gate
    for version in ("1", "2"):
        record_verdict(client, verdict(name, version, thresholds=floors, metrics={t.metric: 0.99 for t in floors}))
        assert cli.main(["promote", "--model", name, "--version", version, "--reason", f"release {version}"]) == 0
    assert cli.main(["restore-champion", "--model", name]) == 0
    assert "from version 2 back to version 1" in capsys.readouterr().out
    assert alias_version(client, name, CHAMPION) == "1"
    assert cli.main(["history", "--model", name]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    moves = out[1:out.index("rollout records:")]
    assert out[0] == "alias moves:" and len(moves) == 3 and "release 2" in moves[1] and "restore-champion" in moves[2]
