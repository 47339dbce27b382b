"""Turns stored after their answers have gone out.

Only the stored copy of a turn needs the user's text redacted, and redaction (spaCy and Presidio) is the costliest
step of a routed turn after the models. So `SessionWriter` takes it off the response path: one background thread
takes the turns waiting to be stored, in arrival order, redacts their texts in one pass and appends them. It is a
`SessionStore` itself: a read of a session (its history for the next turn, a turn for feedback) first waits until
that session's submitted turns are stored, so nobody sees their session without their last turn.

That guarantee holds within one server process. Several servers that share one Redis store and do not pin a
session to a server (the canary router does) should store in line (`store_after_answer: false` in bot.yaml).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from typing import Callable

from .sessions import SessionStore
from .turn import Turn

log = logging.getLogger(__name__)


class SessionWriter:
    def __init__(self, store: SessionStore, redact_many: Callable[[list[str]], list[str]], max_pending: int = 256,
                 max_batch: int = 32):
        self.store, self.redact_many = store, redact_many
        self.max_pending, self.max_batch = max_pending, max_batch
        self.write_errors = 0
        self._queue: deque[Turn] = deque()
        self._pending: Counter[str] = Counter()  # per session: submitted, not yet stored (or failed)
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="session-writer", daemon=True)
        self._thread.start()

    # --- SessionStore: reads wait for their session's turns ---------------------------------------------------------

    def history(self, session_id: str, limit: int = 10) -> list[dict]:
        self.wait(session_id)
        return self.store.history(session_id, limit)

    def find_turn(self, session_id: str, turn_id: str) -> dict | None:
        self.wait(session_id)
        return self.store.find_turn(session_id, turn_id)

    def append(self, session_id: str, record: dict) -> None:
        """A record stored in line (already redacted), after the session's waiting turns."""
        self.wait(session_id)
        self.store.append(session_id, record)

    def ping(self) -> bool:
        return self._thread.is_alive() and self.store.ping()

    @property
    def waiting(self) -> int:
        """Turns submitted and not stored yet (those being stored included)."""
        with self._cond:
            return sum(self._pending.values())

    # --- behind the answers -----------------------------------------------------------------------------------------

    def submit(self, turn: Turn) -> None:
        """Store `turn` (its text redacted into `user_redacted` first) once the writer gets to it. Blocks while
        `max_pending` turns are waiting, so a writer that falls behind slows the answers instead of growing."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the session writer is closed")
            while len(self._queue) >= self.max_pending:
                self._cond.wait()
            self._queue.append(turn)
            self._pending[turn.session_id] += 1
            self._cond.notify_all()

    def wait(self, session_id: str) -> None:
        with self._cond:
            while self._pending[session_id] > 0:
                self._cond.wait()
            self._pending.pop(session_id, None)

    def close(self) -> None:
        """Store what is waiting, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                self._cond.notify_all()  # room in the queue for blocked submitters
            try:
                self._store(batch)
            finally:
                with self._cond:
                    for turn in batch:
                        self._pending[turn.session_id] -= 1
                    self._cond.notify_all()

    def _store(self, batch: list[Turn]) -> None:
        try:
            texts = self.redact_many([t.clean for t in batch])
        except Exception:
            # never store a text that could not be redacted
            log.exception("redacting %d turns failed; they are not stored", len(batch))
            self.write_errors += len(batch)
            return
        for turn, text in zip(batch, texts):
            turn.user_redacted = text
            try:
                self.store.append(turn.session_id, turn.record())
            except Exception:
                log.exception("storing turn %s of session %s failed", turn.turn_id, turn.session_id)
                self.write_errors += 1
