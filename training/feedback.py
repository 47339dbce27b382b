"""User corrections: schema-checked JSONL in, PII-redacted records and preference pairs out.

A feedback record is one JSON object per line:

    {"session_id": "s-0192", "user_input": "...", "bot_response": "...",
     "corrected_response": "...", "timestamp": "2026-11-20T14:03:11Z", "group": "..."}

`group` is optional: where the prompt came from (a template, a scenario), so that preference pairs
of one group land in one split.

`read_feedback` raises `DataValidationError` (file and line) when a line is not JSON at all -- the
file is not JSONL and nothing in it can be trusted -- and quarantines records that are JSON but
unusable (missing or mistyped fields, an empty correction, a correction identical to the response),
with the reason. Every text field is redacted (`training.pii`) before a record leaves this module,
and quarantined records keep only their line number, field and reason: no raw text.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .errors import DataValidationError
from .pii import redact, redact_related

FIELDS = ("session_id", "user_input", "bot_response", "corrected_response", "timestamp")
TEXT_FIELDS = ("user_input", "bot_response", "corrected_response")


@dataclass(frozen=True)
class Feedback:
    session_id: str
    user_input: str
    bot_response: str
    corrected_response: str
    timestamp: str  # ISO 8601, UTC
    group: str = ""  # optional provenance: pairs of one group stay in one split


@dataclass
class FeedbackBatch:
    records: list[Feedback]
    quarantined: list[dict]  # {"file", "line", "field", "reason"}
    redactions: dict[str, int]  # placeholder -> count over all kept records

    def stats(self) -> dict:
        reasons: dict[str, int] = {}
        for q in self.quarantined:
            reasons[q["reason"]] = reasons.get(q["reason"], 0) + 1
        return {"records": len(self.records), "quarantined": len(self.quarantined),
                "quarantine_reasons": reasons, "redactions": self.redactions}


def _parse_timestamp(value) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _check(obj, source: str, line: int) -> tuple[Feedback | None, dict | None]:
    def bad(field: str | None, reason: str) -> tuple[None, dict]:
        return None, {"file": source, "line": line, "field": field, "reason": reason}

    if not isinstance(obj, dict):
        return bad(None, f"not an object ({type(obj).__name__})")
    for name in FIELDS:
        if name not in obj or obj[name] is None:
            return bad(name, "missing")
        if not isinstance(obj[name], str):
            return bad(name, f"wrong type ({type(obj[name]).__name__}, expected string)")
    for name in ("session_id", *TEXT_FIELDS):
        if not obj[name].strip():
            return bad(name, "empty")
    if " ".join(obj["corrected_response"].split()) == " ".join(obj["bot_response"].split()):
        return bad("corrected_response", "identical to bot_response")
    try:
        timestamp = _parse_timestamp(obj["timestamp"])
    except ValueError:
        return bad("timestamp", "not an ISO 8601 timestamp")
    group = obj.get("group", "")
    if not isinstance(group, str):
        return bad("group", f"wrong type ({type(group).__name__}, expected string)")
    return Feedback(obj["session_id"].strip(), *(obj[n].strip() for n in TEXT_FIELDS), timestamp, group.strip()), None


def read_feedback(paths: list[str | Path]) -> FeedbackBatch:
    records: list[Feedback] = []
    quarantined: list[dict] = []
    redactions: dict[str, int] = {}
    for path in paths:
        path = Path(path)
        with path.open(encoding="utf-8") as f:
            for line_no, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise DataValidationError(str(path), line_no, None,
                                              f"not a JSON object ({exc.msg}); feedback files are JSONL, one object per line") from None
                record, problem = _check(obj, path.name, line_no)
                if problem:
                    quarantined.append(problem)
                    continue
                clean = {}
                for name, r in zip(TEXT_FIELDS, redact_related([getattr(record, n) for n in TEXT_FIELDS])):
                    clean[name] = r.text
                    for label, n in r.counts.items():
                        redactions[label] = redactions.get(label, 0) + n
                records.append(Feedback(redact(record.session_id).text, timestamp=record.timestamp,
                                        group=redact(record.group).text if record.group else "", **clean))
    return FeedbackBatch(records, quarantined, redactions)


def feedback_jsonl(records: list[Feedback]) -> str:
    return "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in records)


def write_feedback(records: list[Feedback], path: str | Path) -> Path:
    from .fileio import atomic_write_text

    return atomic_write_text(path, feedback_jsonl(records))


def load_redacted(path: str | Path) -> list[Feedback]:
    """Records this module already redacted and stored (read as they are: no second redaction pass)."""
    path = Path(path)
    if not path.exists():
        return []
    return [Feedback(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------------------ synthetic feedback

_SCENARIOS = [
    ("what's the weather in {city} tomorrow", "I can't check the weather.",
     "Tomorrow in {city} looks mostly sunny with a high around {t} degrees."),
    ("book a flight to {city} on friday", "Here is a recipe for pancakes.",
     "Sure - I found flights to {city} on Friday. Do you prefer a morning or an evening departure?"),
    ("reset my password", "Your password is hunter2.",
     "I've sent a password reset link to the email on your account. It expires in 30 minutes."),
    ("why was I charged twice this month", "You were not charged.",
     "I'm sorry about that. I can see two charges on your account; I've opened a refund request for the duplicate."),
    ("cancel my subscription", "OK.",
     "I can help with that. Your subscription will stay active until the end of the billing period - shall I cancel it?"),
    ("set an alarm for {h} am", "Alarm set for {h} pm.", "Done - your alarm is set for {h}:00 am."),
    ("what can you do", "Everything.",
     "I can help with travel bookings, your account and billing, reminders and alarms, and quick web searches."),
    ("search the web for {topic}", "I don't know.", "Here are the top results I found about {topic}."),
    ("update my email address", "Email updated.",
     "Sure. What's the new email address? I'll send a confirmation link to it before switching."),
    ("how do I pay my bill", "Pay it.",
     "You can pay in the app under Billing > Pay now, by card or bank transfer."),
]
_PII_TAILS = [
    " My name is {first} {last}.", " You can reach me at {email}.", " My number is {phone}.",
    " Card {card} if you need it.", " My IBAN is {iban}.", " Thanks, {first}", "",  "", "", "",
]
_CITIES = ["Lisbon", "Oslo", "Nairobi", "Toronto", "Osaka", "Lima", "Prague", "Dublin"]
_TOPICS = ["electric cars", "sourdough starters", "marathon training", "solar panels"]
_FIRST = ["Ana", "Kofi", "Mei", "Lars", "Priya", "Diego", "Amira", "Tom"]
_LAST = ["Silva", "Mensah", "Wang", "Berg", "Raman", "Lopez", "Haddad", "Baker"]
# valid test numbers: a Visa test card (Luhn) and the ISO 13616 example IBANs (mod-97)
_CARDS = ["4111 1111 1111 1111", "5500 0000 0000 0004", "4012888888881881"]
_IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00", "FR14 2004 1010 0505 0001 3M02 606"]


def synthetic_feedback(n: int, seed: int = 0, start: datetime | None = None,
                       malformed_fraction: float = 0.05) -> list[str]:
    """`n` JSONL lines of realistic corrections, some with PII in the user's words and a few malformed."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 1, tzinfo=timezone.utc)
    lines = []
    for i in range(n):
        scenario = rng.randrange(len(_SCENARIOS))  # draws as rng.choice did: the same records as before
        user, bad, good = _SCENARIOS[scenario]
        slots = {"city": rng.choice(_CITIES), "t": rng.randint(8, 31), "h": rng.randint(5, 9),
                 "topic": rng.choice(_TOPICS)}
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        tail = rng.choice(_PII_TAILS).format(first=first, last=last, email=f"{first.lower()}.{last.lower()}@example.com",
                                             phone=f"+1 415 555 {rng.randint(1000, 9999)}", card=rng.choice(_CARDS),
                                             iban=rng.choice(_IBANS))
        record = {"session_id": f"s-{rng.randint(0, n // 3):05d}", "user_input": user.format(**slots) + tail,
                  "bot_response": bad.format(**slots), "corrected_response": good.format(**slots),
                  "timestamp": (start + timedelta(minutes=7 * i)).isoformat().replace("+00:00", "Z"),
                  "group": f"synthetic/scenario{scenario}"}
        if rng.random() < malformed_fraction:
            kind = rng.choice(["missing", "type", "empty", "identical"])
            if kind == "missing":
                record.pop("corrected_response")
            elif kind == "type":
                record["timestamp"] = 1732550400
            elif kind == "empty":
                record["corrected_response"] = "  "
            else:
                record["corrected_response"] = record["bot_response"]
        lines.append(json.dumps(record))
    return lines
