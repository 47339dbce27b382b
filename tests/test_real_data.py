"""Importing real labeled data: CLINC150 JSON and plain CSV, with quarantine or strict failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.errors import DataValidationError
from training.real_data import import_labeled

FEW = ["translate", "weather", "book_flight"]


# --- CLINC150 (the real file) --------------------------------------------------------------------


def test_clinc_val_without_labels_imports_everything(clinc_path):
    result = import_labeled(clinc_path, "clinc150", splits=("val",), labels=None)
    frame = result.frame
    assert len(frame) == 3000
    assert frame["intent"].nunique() == 150
    assert result.quarantined == []
    assert list(frame.columns) == ["text", "intent", "source", "group"]
    assert frame["group"].is_unique  # every imported row is its own group
    assert set(frame["source"]) == {f"import:{clinc_path.name}"}
    assert frame["text"].str.strip().eq(frame["text"]).all()
    assert (frame["intent"].value_counts() == 20).all()
    assert "oos" not in set(frame["intent"])


def test_clinc_several_splits_are_concatenated(clinc_path):
    result = import_labeled(clinc_path, "clinc150", splits=("val", "oos_val"))
    assert len(result.frame) == 3100
    assert result.frame["intent"].nunique() == 151


def test_clinc_unknown_intents_are_quarantined(clinc_path):
    result = import_labeled(clinc_path, "clinc150", splits=("val",), labels=set(FEW), strict=False)
    frame = result.frame
    assert set(frame["intent"]) == set(FEW)
    assert len(frame) == 20 * len(FEW)
    assert len(result.quarantined) == 3000 - len(frame)
    for q in result.quarantined:
        assert q["file"] == str(clinc_path)
        assert q["field"] == "intent"
        assert q["row"].startswith("val[")
        assert "unknown intent" in q["reason"]
    # the row locator points back at the offending source row
    raw = json.loads(clinc_path.read_text())["val"]
    first = result.quarantined[0]
    idx = int(first["row"][len("val["):-1])
    assert raw[idx][1] not in FEW
    assert f"'{raw[idx][1]}'" in first["reason"]


def test_clinc_strict_raises_on_the_first_unknown_intent(clinc_path):
    # val[0] is labelled 'translate'
    with pytest.raises(DataValidationError) as info:
        import_labeled(clinc_path, "clinc150", splits=("val",), labels={"weather"}, strict=True)
    err = info.value
    assert err.file == str(clinc_path)
    assert err.row == "val[0]"
    assert err.field == "intent"
    msg = str(err)
    assert str(clinc_path) in msg and "val[0]" in msg and "'intent'" in msg and "'translate'" in msg


def test_clinc_intent_map_renames_oos(clinc_path):
    result = import_labeled(
        clinc_path, "clinc150", splits=("oos_val",), labels={"out_of_scope"},
        intent_map={"oos": "out_of_scope"}, strict=True,
    )
    assert len(result.frame) == 100
    assert set(result.frame["intent"]) == {"out_of_scope"}
    assert result.quarantined == []


def test_clinc_without_intent_map_oos_is_unknown(clinc_path):
    result = import_labeled(clinc_path, "clinc150", splits=("oos_val",), labels={"out_of_scope"})
    assert result.frame.empty
    assert len(result.quarantined) == 100
    assert "'oos'" in result.quarantined[0]["reason"]


def test_clinc_missing_split(clinc_path):
    with pytest.raises(DataValidationError) as info:
        import_labeled(clinc_path, "clinc150", splits=("validation",))
    assert info.value.field == "validation"
    assert "no split 'validation'" in str(info.value)
    assert "'val'" in str(info.value)


def test_clinc_bad_rows_and_bad_json(tmp_path):
    path = tmp_path / "mini.json"
    path.write_text(json.dumps({"train": [
        ["what's the weather", "weather"],
        ["only one element"],
        ["", "weather"],
        ["hello", None],
        "not a list",
    ]}))
    result = import_labeled(path, "clinc150")
    assert result.frame["text"].tolist() == ["what's the weather"]
    assert [(q["row"], q["field"]) for q in result.quarantined] == [
        ("train[1]", "row"), ("train[2]", "text"), ("train[3]", "intent"), ("train[4]", "row"),
    ]

    broken = tmp_path / "broken.json"
    broken.write_text('{"train": [\n  ["a", "b"],\n  oops\n]}')
    with pytest.raises(DataValidationError) as info:
        import_labeled(broken, "clinc150")
    assert info.value.row == "line 3"
    assert "not valid JSON" in str(info.value)

    not_dict = tmp_path / "list.json"
    not_dict.write_text('[["a", "b"]]')
    with pytest.raises(DataValidationError, match="expected an object of splits"):
        import_labeled(not_dict, "clinc150")


# --- CSV -----------------------------------------------------------------------------------------


def write_csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_good_rows(tmp_path):
    path = write_csv(tmp_path, "text,intent\nwhat's the weather in Paris,weather\n  book a flight  , book_flight \n"
                               '"hi, there",greeting\n')
    result = import_labeled(path, "csv", labels={"weather", "book_flight", "greeting"}, strict=True)
    assert result.frame[["text", "intent", "source"]].values.tolist() == [
        ["what's the weather in Paris", "weather", "import:data.csv"],
        ["book a flight", "book_flight", "import:data.csv"],
        ["hi, there", "greeting", "import:data.csv"],
    ]
    assert result.quarantined == []


def test_csv_is_the_default_format_and_extra_columns_are_ignored(tmp_path):
    path = write_csv(tmp_path, "id,intent,text\n1,weather,rain today?\n")
    result = import_labeled(path)
    assert result.frame[["text", "intent"]].values.tolist() == [["rain today?", "weather"]]


def test_csv_missing_text_or_intent_is_quarantined_with_line(tmp_path):
    path = write_csv(tmp_path, "text,intent\nhello,greeting\n,weather\nbook a flight,\n   ,weather\nbye,goodbye\n")
    result = import_labeled(path, "csv")
    assert result.frame["text"].tolist() == ["hello", "bye"]
    got = [(q["row"], q["field"]) for q in result.quarantined]
    assert got == [("line 3", "text"), ("line 4", "intent"), ("line 5", "text")]
    assert all(q["file"] == str(path) for q in result.quarantined)


def test_csv_strict_raises_on_missing_intent(tmp_path):
    path = write_csv(tmp_path, "text,intent\nhello,greeting\nbook a flight,\n")
    with pytest.raises(DataValidationError) as info:
        import_labeled(path, "csv", strict=True)
    assert info.value.row == "line 3"
    assert info.value.field == "intent"


def test_csv_unknown_intent_with_labels(tmp_path):
    path = write_csv(tmp_path, "text,intent\nhello,greeting\nwhat time is it,ask_time\nhola,hello_es\n")
    result = import_labeled(path, "csv", labels={"greeting"}, intent_map={"hello_es": "greeting"})
    assert result.frame["intent"].tolist() == ["greeting", "greeting"]
    assert [(q["row"], q["field"]) for q in result.quarantined] == [("line 3", "intent")]


def test_csv_without_header_columns_raises_on_line_1(tmp_path):
    path = write_csv(tmp_path, "utterance,label\nhello,greeting\n")
    with pytest.raises(DataValidationError) as info:
        import_labeled(path, "csv")
    err = info.value
    assert err.row == "line 1"
    assert "line 1" in str(err)
    assert str(path) in str(err)
    assert err.field == "intent,text"


def test_csv_with_only_one_required_column(tmp_path):
    path = write_csv(tmp_path, "text,label\nhello,greeting\n")
    with pytest.raises(DataValidationError) as info:
        import_labeled(path, "csv")
    assert info.value.field == "intent"


def test_empty_csv_raises(tmp_path):
    path = write_csv(tmp_path, "")
    with pytest.raises(DataValidationError) as info:
        import_labeled(path, "csv")
    assert info.value.row == "line 1"


def test_unknown_format_raises(tmp_path):
    path = write_csv(tmp_path, "text,intent\nhello,greeting\n")
    with pytest.raises(DataValidationError) as info:
        import_labeled(path, "jsonl")
    assert info.value.field == "format"
    assert "unknown format 'jsonl'" in str(info.value)


def test_missing_file_raises(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataValidationError) as info:
        import_labeled(path, "csv")
    assert info.value.file == str(path)
    assert "file not found" in str(info.value)


# --- regression: real file lines and a BOM -------------------------------------------------------


def test_csv_reports_the_real_file_line_with_blank_and_multiline_records(tmp_path):
    # line 3 is blank (skipped by the reader), the record on lines 5-6 spans two lines
    path = write_csv(tmp_path, 'text,intent\nhello,greeting\n\n,weather\n"multi\nline",weather\nok,\n')
    result = import_labeled(path, "csv")
    assert result.frame[["text", "intent"]].values.tolist() == [["hello", "greeting"], ["multi\nline", "weather"]]
    assert [(q["row"], q["field"]) for q in result.quarantined] == [("line 4", "text"), ("line 7", "intent")]
    with pytest.raises(DataValidationError) as info:
        import_labeled(path, "csv", strict=True)
    assert (info.value.row, info.value.field) == ("line 4", "text")


def test_csv_with_a_utf8_bom_imports(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("\ufefftext,intent\nhello,greeting\nwhat's the weather,weather\n", encoding="utf-8")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = import_labeled(path, "csv", labels={"greeting", "weather"}, strict=True)
    assert result.frame[["text", "intent"]].values.tolist() == [["hello", "greeting"], ["what's the weather", "weather"]]
    assert result.quarantined == []


def test_the_clinc150_map_names_real_intents_on_both_sides(clinc_path):
    """A misspelt CLINC150 name in configs/clinc150_map.yaml would silently drop its rows from the real slice."""
    from training.catalog import load_catalog
    from training.real_data import load_intent_map

    root = Path(__file__).resolve().parents[1]
    mapping = load_intent_map(root / "configs" / "clinc150_map.yaml")
    clinc = json.loads(clinc_path.read_text())
    clinc_intents = {intent for split in ("train", "test") for _, intent in clinc[split]} | {"oos"}
    catalog = set(load_catalog(root / "configs" / "intent_catalog.yaml").labels)
    assert set(mapping) <= clinc_intents, set(mapping) - clinc_intents
    assert set(mapping.values()) <= catalog, set(mapping.values()) - catalog
