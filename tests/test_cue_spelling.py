"""training.cue_spelling: misspelled cue words respelled, spans mapped back to the text as written."""

from __future__ import annotations

import pytest

from training.cue_spelling import Respelled, respell

CUES = ("passport", "password", "birthday", "address", "number", "phone", "email")
ENGLISH = {"pass", "passage", "numbers", "member", "phony", "adder", "birth"}


def keep(word: str) -> bool:
    return word in ENGLISH or word == "emil"


@pytest.mark.parametrize("written, expected", [
    ("pasport nr X1", "passport nr X1"),  # one letter missing
    ("my paswrod is k", "my password is k"),  # a letter missing and two swapped: two edits on a long cue
    ("BIRTHDY 4 jul", "BIRTHDAY 4 jul"),  # case kept
    ("Adress: 1 Main St", "Address: 1 Main St"),
    ("my numbr and my phne", "my number and my phone"),
])
def test_misspelled_cues_are_respelled(written, expected):
    assert respell(written, CUES, keep).text == expected


@pytest.mark.parametrize("text", [
    "Emil has the passage numbers",  # words in their own right (the caller's keep) and cues as written
    "ana@pasport.com and pasport-photo and #pasport",  # inside an address, a compound or a tag
    "the paddock",  # too far from every cue
])
def test_other_words_are_left_as_written(text):
    assert respell(text, CUES, keep) == Respelled(text)


def test_a_cue_of_up_to_six_letters_allows_one_edit_a_longer_one_two():
    assert respell("phne phnoe", CUES, keep).text == "phone phone"
    assert respell("phnx", CUES, keep).text == "phnx"  # two edits from "phone"
    assert respell("pasprt", CUES, keep).text == "passport"


def test_two_equally_close_cues_leave_the_word_alone():
    assert respell("phome", ("phone", "phoke"), lambda w: False).text == "phome"


def test_spans_map_back_to_the_text_as_written():
    written = "my pasport nr is X12 and paswrod is Kx9!, numbr 555"
    out = respell(written, CUES, keep)
    assert out.text == "my passport nr is X12 and password is Kx9!, number 555"
    for value in ("X12", "Kx9!", "555", "my"):
        start = out.text.index(value)
        assert out.original(start, start + len(value)) == (written.index(value), written.index(value) + len(value))
    # a span that covers a respelled word covers the word as written
    start = out.text.index("password")
    assert out.original(start, start + len("password is")) == (written.index("paswrod"),
                                                               written.index("paswrod") + len("paswrod is"))
    assert out.original(start + 2, start + 4) == (written.index("paswrod"), written.index("paswrod") + 7)
    assert out.original(len(out.text), len(out.text)) == (len(written), len(written))
