"""The intent catalog: the shipped YAML loads, and malformed catalogs fail with a precise location."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from training.catalog import OUT_OF_SCOPE, IntentCatalog, load_catalog, placeholders
from training.errors import DataValidationError, DataValidationErrors

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "configs" / "intent_catalog.yaml"


def write(tmp_path: Path, text: str, name: str = "catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# A valid two-intent catalog; the bad-input tests below each break one thing in it.
GOOD = """
name: tiny
slots:
  city: [Paris, Berlin]
  time: [7 am, "6:30"]
intents:
  - name: weather
    domain: information
    description: Ask for the weather.
    slots: [city]
    seeds:
      - "weather in {city}"
      - "is it raining"
  - name: greeting
    domain: small_talk
    description: Say hello.
    seeds: ["hello"]
"""


def load_error(path: Path) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        load_catalog(path)
    return info.value


# --- the shipped catalog -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> IntentCatalog:
    return load_catalog(SHIPPED)


def test_shipped_catalog_has_the_expected_intents_and_domains(shipped):
    labels = shipped.labels
    assert len(labels) >= 20
    assert len(set(labels)) == len(labels)
    for name in ("weather", "book_flight", "search_web", OUT_OF_SCOPE):
        assert name in labels
    domains = {i.domain for i in shipped.intents}
    assert {"account", "billing", "small_talk"} <= domains
    assert shipped.intent("book_flight").domain == "travel"
    with pytest.raises(KeyError):
        shipped.intent("no_such_intent")


def test_every_shipped_intent_is_complete(shipped):
    for intent in shipped.intents:
        assert intent.description.strip(), intent.name
        assert intent.seeds and all(s.strip() for s in intent.seeds), intent.name
        for slot in intent.slots:
            values = shipped.slots.get(slot)
            assert values, f"{intent.name}: slot '{slot}' has no values"
            assert all(isinstance(v, str) and v.strip() for v in values), slot
        for seed in intent.seeds:
            for used in placeholders(seed):
                assert used in intent.slots, f"{intent.name}: '{seed}' uses undeclared '{used}'"


def test_shipped_catalog_uses_slots_somewhere(shipped):
    with_slots = [i for i in shipped.intents if any(placeholders(s) for s in i.seeds)]
    assert len(with_slots) >= 10
    assert "city" in shipped.intent("weather").slots


def test_placeholders():
    assert placeholders("fly from {city} to {city} {date}") == ["city", "city", "date"]
    assert placeholders("hello") == []


def test_good_tiny_catalog_loads(tmp_path):
    catalog = load_catalog(write(tmp_path, GOOD))
    assert catalog.labels == ["weather", "greeting"]
    assert catalog.slots["time"] == ["7 am", "6:30"]
    assert catalog.intent("greeting").slots == []


# --- malformed catalogs --------------------------------------------------------------------------


def test_missing_file(tmp_path):
    err = load_error(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(err)
    assert "not found" in str(err)


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, """
        name: tiny
        intents:
          - name: weather
            domain: information
            seeds: ["a", "b"
          - name: greeting
        """, name="broken.yaml")
    err = load_error(path)
    assert err.file == str(path)
    assert str(path) in str(err)
    assert isinstance(err.row, str) and err.row.startswith("line ")
    assert int(err.row.split()[1]) in (5, 6)
    assert "not valid YAML" in str(err)


def test_top_level_must_be_a_mapping(tmp_path):
    err = load_error(write(tmp_path, "- just\n- a list\n"))
    assert "mapping" in err.reason


def test_empty_file_is_rejected(tmp_path):
    err = load_error(write(tmp_path, ""))
    assert "mapping" in err.reason


def test_missing_description_names_intent_and_field(tmp_path):
    text = GOOD.replace("    description: Say hello.\n", "")
    path = write(tmp_path, text, name="nodesc.yaml")
    err = load_error(path)
    msg = str(err)
    assert str(path) in msg
    assert "intent #2" in msg
    assert "'greeting'" in msg
    assert err.field == "description"
    assert "field 'description'" in msg


def test_seed_with_undeclared_placeholder_names_the_seed(tmp_path):
    text = GOOD.replace('- "is it raining"', '- "is it raining {date}"')
    err = load_error(write(tmp_path, text))
    assert err.row == "intent #1 ('weather')"
    assert err.field == "seeds[1]"
    assert "seeds[1]" in str(err)
    assert "{date}" in str(err)


def test_seed_with_malformed_placeholder_names_the_seed(tmp_path):
    text = GOOD.replace('- "is it raining"', '- "is it raining in {city"')
    err = load_error(write(tmp_path, text))
    assert err.field == "seeds[1]"
    assert "placeholder" in err.reason


def test_blank_seed_is_rejected(tmp_path):
    text = GOOD.replace('- "is it raining"', '- "   "')
    err = load_error(write(tmp_path, text))
    assert "intent #1" in str(err)
    assert err.field == "seeds"
    assert "seed 1 is empty" in err.reason


def test_non_string_seed_names_its_index(tmp_path):
    text = GOOD.replace('- "is it raining"', "- 42")
    err = load_error(write(tmp_path, text))
    assert err.field == "seeds[1]"


def test_duplicate_intent_names(tmp_path):
    text = GOOD + (
        "  - name: weather\n"
        "    domain: information\n"
        "    description: Again.\n"
        '    seeds: ["forecast please"]\n'
    )
    err = load_error(write(tmp_path, text))
    assert err.row == "intent #3 ('weather')"
    assert err.field == "name"
    assert "duplicate intent name 'weather'" in str(err)


def test_slot_type_with_no_values(tmp_path):
    text = GOOD.replace("city: [Paris, Berlin]", "city: []")
    err = load_error(write(tmp_path, text))
    assert err.row == "intent #1 ('weather')"
    assert err.field == "slots"
    assert "'city'" in err.reason and "no values" in err.reason


def test_slot_type_that_is_not_defined(tmp_path):
    text = GOOD.replace("slots: [city]", "slots: [city, airline]")
    err = load_error(write(tmp_path, text))
    assert err.field == "slots"
    assert "'airline'" in err.reason


def test_unquoted_time_slot_value_names_the_field(tmp_path):
    # YAML 1.1 reads an unquoted 6:30 as the sexagesimal integer 390, not a string.
    text = GOOD.replace('time: [7 am, "6:30"]', "time: [7 am, 6:30]")
    path = write(tmp_path, text, name="times.yaml")
    err = load_error(path)
    assert str(path) in str(err)
    assert err.field == "slots.time.1"
    assert "slots.time.1" in str(err)
    assert "string" in err.reason


def test_bad_intent_name_pattern(tmp_path):
    text = GOOD.replace("- name: greeting", "- name: Say-Hello")
    err = load_error(write(tmp_path, text))
    assert "intent #2 ('Say-Hello')" in str(err)
    assert err.field == "name"


def test_unknown_key_is_rejected(tmp_path):
    text = GOOD.replace("    description: Say hello.\n", "    description: Say hello.\n    colour: blue\n")
    err = load_error(write(tmp_path, text))
    assert "intent #2" in str(err)
    assert err.field == "colour"


def test_a_single_intent_is_not_enough(tmp_path):
    text = GOOD.split("  - name: greeting")[0]
    err = load_error(write(tmp_path, text))
    assert err.field == "intents"


def test_error_message_format():
    err = DataValidationError("f.yaml", "intent #2", "description", "Field required")
    assert str(err) == "f.yaml, row intent #2, field 'description': Field required"
    assert str(DataValidationError("f.yaml", None, None, "boom")) == "f.yaml: boom"


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    # a missing description in one intent and an undeclared placeholder in another intent's seed
    text = GOOD.replace("    description: Ask for the weather.\n", "")
    text = text.replace('seeds: ["hello"]', 'seeds: ["hello {name}"]')
    err = load_error(write(tmp_path, text))
    assert isinstance(err, DataValidationErrors)
    where = {(p.row, p.field) for p in err.problems}
    assert ("intent #1 ('weather')", "description") in where
    assert ("intent #2 ('greeting')", "seeds[0]") in where
    message = str(err)
    assert "2 problems" in message and "description" in message and "{name}" in message


def test_schema_and_slot_problems_together(tmp_path):
    text = GOOD.replace("name: greeting", "name: Greeting").replace("slots: [city]", "slots: [city, airport]")
    err = load_error(write(tmp_path, text))
    fields = sorted(p.field for p in err.problems)
    assert fields == ["name", "slots"], fields


def test_repeated_seed_names_the_second_row_and_the_first(tmp_path):
    # within an intent or across intents: a repeated seed would be held out against itself by the split
    text = GOOD.replace('seeds: ["hello"]', 'seeds: ["hello", "Is it  raining"]')
    err = load_error(write(tmp_path, text))
    assert err.row == "intent #2 ('greeting')"
    assert err.field == "seeds[1]"
    assert "repeats" in err.reason and "intent #1 ('weather')" in err.reason
