"""The LLM route: the gated student (int8, DPO adapter merged) answers with greedy decoding within a token
budget; tokens stream. Turns that wait at the same time are generated together in one batch (left-padded):
on 2 CPU cores a batch of 8 takes about twice as long as one answer, so under load the bot answers about
4x as many LLM turns and a waiting turn's first token comes far sooner than behind a queue of whole
generations. Its answers pass the guard's output check before anyone sees them (`Bot`)."""

from __future__ import annotations

import queue
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from serving.llm_runtime import encode_prompt, eos_token_ids, left_padded

from .turn import Turn

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
_TRAILING_DIGITS = re.compile(r"\d[,;:]?$")
_END = object()


@dataclass
class LlmStage:
    model: object
    tokenizer: object
    system_prompt: str
    max_new_tokens: int = 64
    history_turns: int = 6
    max_batch_size: int = 8
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
        """The turn's generated text pieces as they come (greedy, at most `max_new_tokens`), generated with
        whatever other turns are waiting; sets turn.ttft_ms (from the call, queueing included) and llm_tokens.
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
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch, self._pending = self._pending[: self.max_batch_size], self._pending[self.max_batch_size:]
            try:
                self.generate([t for t, _, _ in batch], [sink for _, sink, _ in batch], [s for _, _, s in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, the worker keeps serving
                for _, sink, _ in batch:
                    sink(exc)

    def generate(self, turns: list[Turn], sinks: list[Callable], started: list[float]) -> None:
        """One left-padded greedy batch; each turn's text goes to its sink piece by piece, then `_END`."""
        import torch

        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        ids, mask = left_padded([encode_prompt(tok, self.messages(t)) for t in turns], pad)
        streamer = _BatchStreamer(tok, turns, sinks, started, eos_token_ids(self.model, tok), self.before_step)
        with torch.inference_mode():
            self.model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=self.max_new_tokens,
                                pad_token_id=pad, temperature=None, top_p=None, top_k=None, streamer=streamer)
        streamer.end()


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


class _BatchStreamer:
    """transformers' streamer protocol (`put` each step's tokens, `end`) for a batch: every row decoded on its
    own and sent to its sink a word at a time, up to its end-of-sequence token (later pad tokens are not its)."""

    def __init__(self, tokenizer, turns: list[Turn], sinks: list[Callable], started: list[float], eos: set[int],
                 before_step: Callable[[], None] | None = None):
        self.tokenizer, self.turns, self.sinks, self.started, self.eos = tokenizer, turns, sinks, started, eos
        self.before_step = before_step
        self.ids: list[list[int]] = [[] for _ in turns]
        self.sent = [0] * len(turns)
        self.done = [False] * len(turns)
        self.prompt_seen = False

    def put(self, value) -> None:
        if self.before_step is not None:
            self.before_step()
        if not self.prompt_seen:  # the first call carries the prompts
            self.prompt_seen = True
            return
        for row, token in enumerate(value.reshape(len(self.turns), -1)[:, -1].tolist()):
            if self.done[row]:
                continue
            self.turns[row].llm_tokens += 1
            if self.turns[row].ttft_ms is None:  # the first generated token, even one that ends the answer at once
                self.turns[row].ttft_ms = (time.perf_counter() - self.started[row]) * 1000
            if token in self.eos:
                self._finish(row)
                continue
            self.ids[row].append(token)
            text = self.tokenizer.decode(self.ids[row], skip_special_tokens=True)
            cut = text.rfind(" ") if not text.endswith("\n") else len(text)
            if cut > self.sent[row]:
                self._send(row, text[self.sent[row]:cut])
                self.sent[row] = cut

    def end(self) -> None:
        for row in range(len(self.turns)):
            if not self.done[row]:
                self._finish(row)

    def _send(self, row: int, piece: str) -> None:
        self.sinks[row](piece)

    def _finish(self, row: int) -> None:
        text = self.tokenizer.decode(self.ids[row], skip_special_tokens=True)
        if len(text) > self.sent[row]:
            self._send(row, text[self.sent[row]:])
        self.done[row] = True
        self.sinks[row](_END)


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
