"""The LLM route: the gated student (int8, DPO adapter merged) answers with greedy decoding within a token
budget; tokens can stream. Its answers pass the guard's output check before anyone sees them."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from serving.llm_runtime import encode_prompt

from .turn import Turn

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
_TRAILING_DIGITS = re.compile(r"\d[,;:]?$")


@dataclass
class LlmStage:
    model: object
    tokenizer: object
    system_prompt: str
    max_new_tokens: int = 64
    history_turns: int = 6
    name: str = "llm"
    always: bool = False

    def messages(self, turn: Turn) -> list[dict]:
        msgs = [{"role": "system", "content": self.system_prompt}]
        for past in turn.history[-self.history_turns:]:
            msgs += [{"role": "user", "content": past["user"]}, {"role": "assistant", "content": past["bot"]}]
        return msgs + [{"role": "user", "content": turn.clean}]

    def tokens(self, turn: Turn) -> Iterator[str]:
        """Generated text pieces as they come (greedy, at most `max_new_tokens`); sets turn.ttft_ms and llm_tokens."""
        import torch
        from transformers import TextIteratorStreamer

        ids = torch.tensor([encode_prompt(self.tokenizer, self.messages(turn))], dtype=torch.long)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        out: dict = {}

        def run():
            with torch.inference_mode():
                out["ids"] = self.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                                 max_new_tokens=self.max_new_tokens, pad_token_id=pad,
                                                 temperature=None, top_p=None, top_k=None, streamer=streamer)

        start = time.perf_counter()
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        for piece in streamer:
            if turn.ttft_ms is None:
                turn.ttft_ms = (time.perf_counter() - start) * 1000
            yield piece
        worker.join()
        turn.llm_tokens = int(out["ids"].shape[1] - ids.shape[1]) if "ids" in out else 0

    def __call__(self, turn: Turn) -> Turn:
        if turn.route != "llm":
            return turn
        turn.answer = "".join(self.tokens(turn)).strip()
        return turn


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
