"""Misspelled cue words put right before pattern matching, with a map back to the text as written.

Users misspell the very words that tell a redactor what follows ("pasport nr X1234567", "birthdy 4 jul 1993",
"paswrod is ..."). Rather than spelling every variant into every pattern, a word that is a small edit away from
a cue word (optimal string alignment distance from rapidfuzz: one edit for cues of up to six letters, two for
longer ones; same first letter) is replaced by the cue, unless the caller says the word is a word in its own
right (an English word, a name). Matching then runs on the respelled text and the spans it finds are mapped
back with `Respelled.original`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import regex as re
from rapidfuzz.distance import OSA

_WORD = re.compile(r"(?<![\p{L}\p{M}\p{N}_@./#-])\p{L}[\p{Ll}\p{Lu}]{3,14}(?![\p{L}\p{M}\p{N}_@#-]|\.\w)")


@dataclass(frozen=True)
class Respelled:
    """`text` with misspelled cues replaced; `edits` are (start, end, original start, original end) in order."""

    text: str
    edits: tuple[tuple[int, int, int, int], ...] = field(default=())

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the text as written that `text[start:end]` came from."""
        return self._map(start, edge="start"), self._map(end, edge="end")

    def _map(self, pos: int, edge: str) -> int:
        i = bisect_right([e[0] for e in self.edits], pos) - 1
        if i < 0:
            return pos
        new_start, new_end, old_start, old_end = self.edits[i]
        if pos >= new_end:  # after this edit: shifted by the length it changed
            return pos - new_end + old_end
        if pos == new_start:
            return old_start
        return old_start if edge == "start" else old_end  # inside a respelled word: the whole word


def _cased_like(word: str, cue: str) -> str:
    if word.isupper():
        return cue.upper()
    if word[0].isupper():
        return cue[0].upper() + cue[1:]
    return cue


def respell(text: str, cues: Iterable[str], keep: Callable[[str], bool]) -> Respelled:
    """`text` with each word that is a likely misspelling of one of `cues` (lower case) replaced by it; words for
    which `keep(word.lower())` is true are left as written."""
    cues = tuple(cues)
    pieces, edits, last, shift = [], [], 0, 0
    for m in _WORD.finditer(text):
        word = m.group(0)
        low = word.lower()
        if low in cues or keep(low):
            continue
        near = [(OSA.distance(low, c), c) for c in cues if c[0] == low[0] and abs(len(c) - len(low)) <= 2]
        near = sorted((d, c) for d, c in near if d <= (1 if len(c) <= 6 else 2))
        if not near or (len(near) > 1 and near[1][0] == near[0][0]):
            continue  # no cue close enough, or two equally close
        cue = _cased_like(word, near[0][1])
        pieces.append(text[last:m.start()])
        new_start = m.start() + shift
        pieces.append(cue)
        edits.append((new_start, new_start + len(cue), m.start(), m.end()))
        shift += len(cue) - len(word)
        last = m.end()
    if not edits:
        return Respelled(text)
    pieces.append(text[last:])
    return Respelled("".join(pieces), tuple(edits))
