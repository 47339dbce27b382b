"""Reference data: found through one setting, fetched only when missing, kept only with the pinned checksum."""

from __future__ import annotations

import hashlib

import pytest

from pipelines.settings import project_path, reference_data_dir, reference_file
from training.fileio import sha256_file
from training.reference_data import FILES, ReferenceDataError, fetch_missing, locate


def test_every_file_of_the_configured_folder_has_its_pinned_checksum():
    for name, ref in FILES.items():
        assert sha256_file(locate(reference_data_dir(), name)) == ref.sha256, name


def test_one_setting_moves_every_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVBOT_REFERENCE_DATA", str(tmp_path))
    with pytest.raises(ReferenceDataError, match="make reference-data"):
        reference_file("xstest/xstest_prompts.csv")
    (tmp_path / "xstest").mkdir()
    (tmp_path / "xstest" / "xstest_prompts.csv").write_text("id,prompt\n")
    assert reference_file("xstest/xstest_prompts.csv") == tmp_path / "xstest" / "xstest_prompts.csv"
    assert project_path("reference:xstest/xstest_prompts.csv") == tmp_path / "xstest" / "xstest_prompts.csv"


def _fake_source(blobs: dict[str, bytes], calls: list[str]):
    def download(url: str) -> bytes:
        calls.append(url)
        return blobs[url]
    return download


def test_missing_file_is_downloaded_and_verified(tmp_path, monkeypatch):
    name = "clinc150/domains.json"
    real = (reference_data_dir() / name).read_bytes()
    calls: list[str] = []
    written = fetch_missing(tmp_path, [name], _fake_source({FILES[name].url: real}, calls), log=lambda m: None)
    assert written == [tmp_path / name] and calls == [FILES[name].url]
    assert (tmp_path / name).read_bytes() == real
    # present and right: not downloaded again
    assert fetch_missing(tmp_path, [name], _fake_source({}, calls), log=lambda m: None) == []
    assert len(calls) == 1


def test_download_with_the_wrong_content_writes_nothing(tmp_path):
    name = "xstest/xstest_prompts.csv"
    tampered = b"id,prompt\n1,changed upstream\n"
    with pytest.raises(ReferenceDataError) as info:
        fetch_missing(tmp_path, [name], _fake_source({FILES[name].url: tampered}, []), log=lambda m: None)
    assert hashlib.sha256(tampered).hexdigest() in str(info.value) and FILES[name].sha256 in str(info.value)
    assert not any(tmp_path.rglob("*.csv")) and not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_present_file_with_other_content_is_an_error_not_replaced(tmp_path):
    name = "clinc150/domains.json"
    (tmp_path / "clinc150").mkdir()
    (tmp_path / name).write_text("{}")
    with pytest.raises(ReferenceDataError, match="not the pinned"):
        fetch_missing(tmp_path, [name], _fake_source({}, []), log=lambda m: None)
    assert (tmp_path / name).read_text() == "{}"


def test_unknown_reference_name():
    with pytest.raises(ReferenceDataError, match="unknown reference file"):
        locate(reference_data_dir(), "clinc150/other.json")
