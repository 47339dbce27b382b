"""The PII scorer: a span counts as caught only when all of it is redacted; precision by overlap."""

import pytest

from evals.pii_metrics import read_labelled, score

ROWS = [
    {"id": "a", "text": "I am José Núñez, mail jose@x.org", "spans": [
        {"start": 5, "end": 15, "kind": "NAME", "value": "José Núñez"},
        {"start": 22, "end": 32, "kind": "EMAIL", "value": "jose@x.org"}]},
    {"id": "b", "text": "book a flight at 7:30", "spans": []},
]


def test_a_half_redacted_name_is_a_miss_and_an_unlabelled_hit_is_a_false_positive():
    def detect(text):
        if text.startswith("I am"):
            return [(5, 9, "NAME"), (22, 32, "EMAIL")]  # "José" only: "Núñez" leaks
        return [(17, 21, "PHONE")]
    result = score(ROWS, detect)
    assert result["recall"]["value"] == 0.5 and result["recall"]["n"] == 2
    assert result["precision"]["value"] == pytest.approx(2 / 3)
    assert result["per_kind"]["NAME"]["recall"]["value"] == 0.0
    assert result["per_kind"]["PHONE"]["precision"]["value"] == 0.0
    assert result["misses"] == [{"id": "a", "kind": "NAME", "value": "José Núñez"}]
    assert result["false_positives"] == [{"id": "b", "kind": "PHONE", "value": "7:30"}]


def test_any_kind_that_covers_a_span_catches_it_and_kind_agreement_is_reported():
    result = score(ROWS[:1], lambda text: [(0, len(text), "ADDRESS")])
    assert result["recall"]["value"] == 1.0 and result["kind_agreement"] == 0.0
    lo, hi = result["recall"]["ci95"]
    assert lo < 1.0 <= hi


def test_labelled_offsets_are_checked(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"text": "call Ana", "spans": [{"start": 5, "end": 8, "kind": "NAME", "value": "Bob"}]}\n')
    with pytest.raises(ValueError, match="row 1, field 'spans'"):
        read_labelled(path)
