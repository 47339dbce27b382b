"""Turns stored behind their answers: a session's reads wait for its own turns, never for other sessions'; a turn
whose text could not be redacted is not stored; closing stores what is waiting."""

from __future__ import annotations

import threading

import pytest

from serving.bot.session_writer import SessionWriter
from serving.bot.sessions import SqliteSessions
from serving.bot.turn import Turn


def _turn(session: str, text: str) -> Turn:
    return Turn(session_id=session, text=text, clean=text, route="template", answer=f"re: {text}")


class Gate:
    """A redactor that holds each pass until the test sets `open` (and records the passes it was given)."""

    def __init__(self):
        self.open, self.entered, self.passes = threading.Event(), threading.Event(), []

    def __call__(self, texts: list[str]) -> list[str]:
        self.passes.append(list(texts))
        self.entered.set()
        assert self.open.wait(10), "the test never released the redactor"
        return [t.replace("Ana", "[NAME]") for t in texts]


def _in_thread(fn) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def test_a_session_read_waits_for_its_last_turn_and_gets_it_redacted(tmp_path):
    gate = Gate()
    writer = SessionWriter(SqliteSessions(tmp_path / "s.db"), gate)
    writer.submit(_turn("a", "call Ana at noon"))  # returns at once: the answer does not wait for redaction
    assert gate.entered.wait(5)
    reader, out = _in_thread(lambda: writer.history("a"))
    reader.join(0.3)
    assert reader.is_alive(), "the history was read before the session's last turn was stored"
    assert writer.waiting == 1
    gate.open.set()
    reader.join(5)
    assert [r["user"] for r in out[0]] == ["call [NAME] at noon"] and writer.waiting == 0
    assert "Ana" not in writer.store.history("a")[0]["user"]
    writer.close()


def test_another_sessions_pending_turn_does_not_hold_a_read(tmp_path):
    gate = Gate()
    store = SqliteSessions(tmp_path / "s.db")
    store.append("b", {"turn_id": "t0", "user": "earlier", "bot": "ok"})
    writer = SessionWriter(store, gate)
    writer.submit(_turn("a", "call Ana"))
    assert gate.entered.wait(5)
    reader, out = _in_thread(lambda: writer.history("b"))
    reader.join(5)
    assert not reader.is_alive() and [r["turn_id"] for r in out[0]] == ["t0"]
    gate.open.set()
    writer.close()


def test_turns_are_stored_in_the_order_they_came_and_in_shared_passes(tmp_path):
    gate = Gate()
    writer = SessionWriter(SqliteSessions(tmp_path / "s.db"), gate)
    writer.submit(_turn("a", "first"))
    assert gate.entered.wait(5)
    for text in ("second", "third", "fourth"):  # queue up while the first pass is held
        writer.submit(_turn("a", text))
    gate.open.set()
    assert [r["user"] for r in writer.history("a")] == ["first", "second", "third", "fourth"]
    assert gate.passes == [["first"], ["second", "third", "fourth"]]
    writer.close()


def test_a_text_that_cannot_be_redacted_is_not_stored_and_readers_go_on(tmp_path):
    def failing(texts):
        raise RuntimeError("spaCy is gone")

    writer = SessionWriter(SqliteSessions(tmp_path / "s.db"), failing)
    writer.submit(_turn("a", "call Ana"))
    assert writer.history("a") == []
    assert writer.write_errors == 1
    writer.close()


def test_a_full_queue_holds_the_next_answer_until_the_writer_catches_up(tmp_path):
    gate = Gate()
    writer = SessionWriter(SqliteSessions(tmp_path / "s.db"), gate, max_pending=2)
    writer.submit(_turn("a", "first"))  # taken by the writer, held in redaction
    assert gate.entered.wait(5)
    writer.submit(_turn("b", "second"))
    writer.submit(_turn("c", "third"))  # the queue holds two
    submitter, _ = _in_thread(lambda: writer.submit(_turn("d", "fourth")))
    submitter.join(0.3)
    assert submitter.is_alive(), "a submit went past a full queue"
    gate.open.set()
    submitter.join(5)
    assert not submitter.is_alive()
    writer.close()
    assert [r["user"] for s in "abcd" for r in writer.store.history(s)] == ["first", "second", "third", "fourth"]


def test_close_stores_what_is_waiting_and_refuses_more(tmp_path):
    gate = Gate()
    gate.open.set()
    store = SqliteSessions(tmp_path / "s.db")
    writer = SessionWriter(store, gate)
    for i in range(50):
        writer.submit(_turn(f"s{i % 5}", f"turn {i}"))
    writer.close()
    assert sum(len(store.history(f"s{k}", limit=100)) for k in range(5)) == 50
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(_turn("a", "late"))
