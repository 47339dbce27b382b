"""The LLM route: the gated student (int8, DPO adapter merged) answers with greedy decoding within a token
budget; tokens stream. The LLM turns in flight are decoded together, one step for all of them at a time,
and a turn that arrives joins the running batch at the next step (continuous batching,
`serving.bot.running_batch`): its first token no longer waits for the whole generation in front of it, and
a finished turn leaves at once. Its answers pass the guard's output check before anyone sees them (`Bot`)."""

from __future__ import annotations

import queue
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from serving.llm_runtime import encode_prompt, eos_token_ids

from .llm_process import LlmProcess
from .turn import Turn

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
_TRAILING_DIGITS = re.compile(r"\d[,;:]?$")
_END = object()


@dataclass
class LlmStage:
    model: object  # a causal LM, or the `LlmProcess` that holds one
    tokenizer: object
    system_prompt: str
    max_new_tokens: int = 64
    history_turns: int = 6
    max_batch_size: int = 16
    before_step: Callable[[], None] | None = None  # called between decode steps (e.g. RoutingFirst.wait)
    name: str = "llm"
    always: bool = False
    _pending: list = field(default_factory=list, init=False, repr=False)
    _wake: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _worker: threading.Thread | None = field(default=None, init=False, repr=False)

    def messages(self, turn: Turn) -> list[dict]:
        msgs = [{"role": "system", "content": self.system_prompt}]
        for past in turn.history[-self.history_turns:]:
            msgs += [{"role": "user", "content": past["user"]}, {"role": "assistant", "content": past["bot"]}]
        return msgs + [{"role": "user", "content": turn.clean}]

    def tokens(self, turn: Turn) -> Iterator[str]:
        """The turn's generated text pieces as they come (greedy, at most `max_new_tokens`), decoded together
        with the other turns in flight; sets turn.ttft_ms (from the call, queueing included) and llm_tokens.
        Safe to call from many threads at once."""
        pieces: queue.SimpleQueue = queue.SimpleQueue()
        with self._wake:
            self._pending.append((turn, pieces.put, time.perf_counter()))
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name="convbot-llm-batcher", daemon=True)
                self._worker.start()
            self._wake.notify()
        while (item := pieces.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def __call__(self, turn: Turn) -> Turn:
        if turn.route != "llm":
            return turn
        turn.answer = "".join(self.tokens(turn)).strip()
        return turn

    def _serve(self) -> None:
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        eos = eos_token_ids(self.model, tok)
        prefix = prompt_prefix(tok, self.system_prompt)
        batch, rows = None, []
        while True:
            with self._wake:
                while not self._pending and not rows:
                    self._wake.wait()
                room = self.max_batch_size - len(rows)
                joining, self._pending = self._pending[:room], self._pending[room:]
            new = [_Row(turn, sink, started, tok, eos, self.max_new_tokens) for turn, sink, started in joining]
            try:
                if batch is None:
                    batch = self._new_batch(pad, prefix)
                if new:
                    self._pause()
                    first = batch.join([encode_prompt(tok, self.messages(row.turn)) for row in new])
                    rows += new
                    for row, token in zip(new, first):
                        row.push(token)
                self._pause()
                for row, token in zip(rows, batch.step()):
                    row.push(token)  # a row that ended is not told again; it leaves below
                if any(row.done for row in rows):
                    keep = [i for i, row in enumerate(rows) if not row.done]
                    batch.keep(keep)
                    rows = [rows[i] for i in keep]
            except Exception as exc:  # noqa: BLE001 - handed to every turn in flight, the worker keeps serving
                for row in rows + [r for r in new if r not in rows]:
                    row.fail(exc)
                batch, rows = None, []

    def _new_batch(self, pad: int, prefix: list[int]):
        """An empty running batch: in this process, or in the LLM's own (`LlmProcess`)."""
        if isinstance(self.model, LlmProcess):
            return self.model.batch(pad, prefix)
        from .running_batch import RunningBatch

        return RunningBatch(self.model, pad, prefix)

    def _pause(self) -> None:
        if self.before_step is not None:
            self.before_step()


def prompt_prefix(tokenizer, system_prompt: str) -> list[int]:
    """The token ids that every prompt with this system prompt starts with: the chat template's system turn
    and what the template puts before a user's words. (A prompt that does not start with them is prefilled
    whole.) No prefix without a chat template: the bot's prompts are message lists, which need one."""
    if not getattr(tokenizer, "chat_template", None):
        return []
    ids = [encode_prompt(tokenizer, [{"role": "system", "content": system_prompt}, {"role": "user", "content": text}])
           for text in ("a", "Z 9")]
    n = next((i for i, (x, y) in enumerate(zip(*ids)) if x != y), min(map(len, ids)))
    return ids[0][:n]


class RoutingFirst:
    """Routing turns go first: while any is in flight the LLM pauses between decode steps, up to `max_pause_s`
    a step. On a small CPU two torch computations at once oversubscribe the cores, and a routing turn of tens
    of milliseconds would wait behind every step of a batch that takes seconds; the cap keeps the LLM moving
    under a steady stream of routing turns."""

    def __init__(self, max_pause_s: float = 0.05):
        self.max_pause_s = max_pause_s
        self._active = 0
        self._idle = threading.Condition()

    @contextmanager
    def routing(self):
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                if not self._active:
                    self._idle.notify_all()

    def wait(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: not self._active, timeout=self.max_pause_s)


class _Row:
    """One turn in the running batch: its tokens decoded and sent to its sink a word at a time, up to its
    end-of-sequence token or its budget, then `_END`."""

    def __init__(self, turn: Turn, sink: Callable, started: float, tokenizer, eos: set[int], budget: int):
        self.turn, self.sink, self.started = turn, sink, started
        self.tokenizer, self.eos, self.budget = tokenizer, eos, budget
        self.ids: list[int] = []
        self.generated = 0
        self.sent = 0
        self.done = False

    def push(self, token: int) -> None:
        if self.done:
            return
        self.generated += 1
        self.turn.llm_tokens += 1
        if self.turn.ttft_ms is None:  # the first generated token, even one that ends the answer at once
            self.turn.first_token_at = time.perf_counter()
            self.turn.ttft_ms = (self.turn.first_token_at - self.started) * 1000
        if token in self.eos:
            self._finish()
            return
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cut = text.rfind(" ") if not text.endswith("\n") else len(text)
        if cut > self.sent:
            self.sink(text[self.sent:cut])
            self.sent = cut
        if self.generated >= self.budget:
            self._finish()

    def fail(self, exc: BaseException) -> None:
        if not self.done:
            self.done = True
            self.sink(exc)

    def _finish(self) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if len(text) > self.sent:
            self.sink(text[self.sent:])
        self.done = True
        self.sink(_END)


def phrases(pieces: Iterator[str], min_words: int = 4) -> Iterator[str]:
    """Regroup streamed pieces into sentences, or clauses of at least `min_words` words, so each can be checked
    and redacted before it is sent while the first one still comes early. A clause ends at ",;:" followed by a
    space; a run of digits never ends one ("call 555, 1234" stays whole), so a number is redacted in one piece."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        while True:
            cut = _cut(buffer, min_words)
            if cut is None:
                break
            done, buffer = buffer[:cut].strip(), buffer[cut:].lstrip()
            if done:
                yield done
    if buffer.strip():
        yield buffer.strip()


def _cut(buffer: str, min_words: int) -> int | None:
    sentence = _SENTENCE_END.search(buffer)
    clause = _CLAUSE_END.search(buffer)
    while clause is not None and (len(buffer[:clause.start()].split()) < min_words
                                  or _TRAILING_DIGITS.search(buffer[:clause.start()])):
        clause = _CLAUSE_END.search(buffer, clause.end())
    ends = [m.end() for m in (sentence, clause) if m is not None]
    return min(ends) if ends else None
