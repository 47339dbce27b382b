"""Redaction of personal data in free text before it is stored for training.

Detected and replaced by a typed placeholder:

    [EMAIL]  addresses                       [PHONE]  international or national numbers (7-15 digits)
    [CARD]   payment card numbers (Luhn)     [IBAN]   IBANs (ISO 13616 mod-97 check)
    [NAME]   names where the text says so: "my name is Ana Silva", "I'm Ana", "this is Ana",
             "call me Ana", "Mr./Ms./Dr. Silva", a sign-off ("Thanks, Ana"), "name: Ana Silva"

Cards and IBANs are checked with their check digits, so order numbers and dates are left alone; a
digit run that fails the check but looks like a card is still redacted as [NUMBER] when it is 13-19
digits long (better a lost order number than a leaked card). Names without such a cue are not
detected: a statistical recogniser (e.g. Presidio with a spaCy model) would catch more, and needs a
model download that this pipeline does not allow at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
CARD_LIKE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w])")
DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_NAME_WORD = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_NAME = rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}"
NAME_CUES = [
    re.compile(rf"(?i:\b(?:my name is|my name's|i am|i'm|this is|call me|name:)\s+)({_NAME})"),
    re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+({_NAME})"),
    re.compile(rf"(?i:\b(?:thanks|thank you|regards|cheers|best|sincerely)),?\s+({_NAME})\s*[.!]?\s*$"),
]
# words that follow "I'm" / "this is" without being names
_NOT_NAMES = {"Sorry", "Not", "Looking", "Trying", "Going", "Here", "Happy", "Sure", "Fine", "Good", "Just", "The",
              "So", "Very", "Still", "Also", "Interested", "Calling", "Writing", "Unable", "Able", "From", "In", "At",
              "On", "Your", "My", "A", "An", "It", "That", "What", "Please", "Thanks", "Done", "Back", "Ok", "Okay"}


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


@dataclass
class Redaction:
    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.counts)


def redact(text: str) -> Redaction:
    counts: dict[str, int] = {}

    def sub(pattern: re.Pattern, label_for, value: str, group: int = 0) -> str:
        def repl(m: re.Match) -> str:
            label = label_for(m.group(group))
            if label is None:
                return m.group(0)
            counts[label] = counts.get(label, 0) + 1
            if group == 0:
                return f"[{label}]"
            start, end = m.span(group)
            return m.group(0)[: start - m.start()] + f"[{label}]" + m.group(0)[end - m.start():]
        return pattern.sub(repl, value)

    out = sub(EMAIL, lambda s: "EMAIL", text)
    out = sub(IBAN, lambda s: "IBAN" if iban_ok(s) else None, out)

    def card(s: str) -> str | None:
        digits = re.sub(r"\D", "", s)
        if 13 <= len(digits) <= 19:
            return "CARD" if luhn_ok(digits) else "NUMBER"
        return None
    out = sub(CARD_LIKE, card, out)

    def phone(s: str) -> str | None:
        if DATE.fullmatch(s.strip()):
            return None
        digits = re.sub(r"\D", "", s)
        # 7-15 digits with a separator or a leading +: a phone; bare short numbers (years, amounts) stay
        if 7 <= len(digits) <= 15 and (s.startswith("+") or re.search(r"[ .()-]", s) or len(digits) >= 9):
            return "PHONE"
        return None
    out = sub(PHONE, phone, out)

    for cue in NAME_CUES:
        out = sub(cue, lambda s: None if s.split()[0] in _NOT_NAMES else "NAME", out, group=1)
    return Redaction(out, counts)


def names_in(text: str) -> set[str]:
    """Names announced by a cue ("my name is ...") in `text`."""
    found = set()
    for cue in NAME_CUES:
        for m in cue.finditer(text):
            if m.group(1).split()[0] not in _NOT_NAMES:
                found.add(m.group(1))
    return found


def redact_related(texts: list[str]) -> list[Redaction]:
    """Redact texts that belong together (one conversation): a name announced in one of them is also
    removed where it appears without a cue in the others ("Sure Kofi, done")."""
    known = set().union(*(names_in(t) for t in texts)) if texts else set()
    parts = {p for name in known for p in [name, *name.split()] if len(p) >= 3}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, parts), key=len, reverse=True)) + r")\b") if parts else None
    out = []
    for text in texts:
        r = redact(text)
        if pattern is not None:
            r.text, n = pattern.subn("[NAME]", r.text)
            if n:
                r.counts["NAME"] = r.counts.get("NAME", 0) + n
        out.append(r)
    return out
