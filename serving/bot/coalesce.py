"""Group commit for model passes (and the PII redaction's spaCy pass): the texts of callers that wait at the same
time run as one batch.

The routing path runs in many threads at once (one per HTTP request). A MiniLM pass over eight short texts,
as one batch, costs far less than eight passes over one (in PyTorch, about 32 ms against 8 x 10 ms when
this was measured), and eight separate passes also fight over the GIL and the cores. So one caller at a
time runs the model, on every text that is waiting when it starts; the others wait for that batch, or lead
the next one. A caller alone runs at once, with no timer to wait out.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Sequence

import numpy as np

from training.intent_predictor import Batch


class Coalescing:
    """`fn(texts) -> one row per text` (an array, or a list), shared by concurrent callers (see the module)."""

    def __init__(self, fn: Batch, max_batch: int = 32):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.fn, self.max_batch = fn, max_batch
        self._cond = threading.Condition()
        self._pending: list[tuple[list[str], Future]] = []
        self._busy = False
        self.batches = 0  # model calls made (a caller alone makes one each)

    def __call__(self, texts: Sequence[str]) -> np.ndarray | list:
        texts = list(texts)
        mine: Future = Future()
        with self._cond:
            self._pending.append((texts, mine))
        while True:
            with self._cond:
                while self._busy and not mine.done():
                    self._cond.wait()
                if mine.done():
                    return mine.result()
                self._busy = True
                batch = self._take()
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _take(self) -> list[tuple[list[str], Future]]:
        """The waiting requests, oldest first, up to `max_batch` texts (at least one request)."""
        taken, size = [], 0
        while self._pending and (not taken or size + len(self._pending[0][0]) <= self.max_batch):
            request = self._pending.pop(0)
            taken.append(request)
            size += len(request[0])
        return taken

    def _run(self, batch: list[tuple[list[str], Future]]) -> None:
        try:
            rows = self.fn([text for texts, _ in batch for text in texts])
            self.batches += 1
            if len(rows) != sum(len(texts) for texts, _ in batch):
                raise ValueError(f"the batch function returned {len(rows)} rows for "
                                 f"{sum(len(t) for t, _ in batch)} texts")
        except BaseException as exc:  # noqa: BLE001 - every caller in the batch gets the error
            for _, future in batch:
                future.set_exception(exc)
            return
        start = 0
        for texts, future in batch:
            future.set_result(rows[start:start + len(texts)])
            start += len(texts)
