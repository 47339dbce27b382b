"""Slot values from an utterance, by the slot types the catalog declares for the intent.

Dates and times go through dateparser (a maintained parser that knows relative dates: "next Tuesday",
"in two days", "tonight"); amounts through a currency-aware pattern; every other slot type by the
values the catalog lists for it (whole words, case-insensitive, longest first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from training.catalog import IntentCatalog

_AMOUNT = re.compile(r"(?:(?P<cur1>[$€£])\s?(?P<n1>\d+(?:[.,]\d{1,2})?)|(?P<n2>\d+(?:[.,]\d{1,2})?)\s?"
                     r"(?P<cur2>dollars?|euros?|pounds?|usd|eur|gbp|bucks))", re.IGNORECASE)
CURRENCIES = {"$": "USD", "dollar": "USD", "dollars": "USD", "usd": "USD", "buck": "USD", "bucks": "USD",
              "€": "EUR", "euro": "EUR", "euros": "EUR", "eur": "EUR",
              "£": "GBP", "pound": "GBP", "pounds": "GBP", "gbp": "GBP"}
DATE_TYPES, TIME_TYPES = {"date"}, {"time"}


@dataclass
class SlotExtractor:
    catalog: IntentCatalog

    def __post_init__(self):
        self._patterns = {}
        for slot, values in self.catalog.slots.items():
            ordered = sorted({v for v in values if v.strip()}, key=len, reverse=True)
            self._patterns[slot] = re.compile(r"(?<!\w)(" + "|".join(re.escape(v) for v in ordered) + r")(?!\w)",
                                              re.IGNORECASE)

    def extract(self, text: str, intent: str | None) -> dict[str, str]:
        if intent is None or intent not in self.catalog.labels:
            return {}
        out: dict[str, str] = {}
        for slot in self.catalog.intent(intent).slots:
            value = self._one(slot, text)
            if value:
                out[slot] = value
        return out

    def warm_up(self) -> None:
        """dateparser builds its language data on the first search (about 2 s): before the first user waits."""
        _dates("remind me next friday at 9am", True)

    def _one(self, slot: str, text: str) -> str | None:
        if slot in DATE_TYPES or slot in TIME_TYPES:
            return _dates(text, slot in TIME_TYPES)
        if slot == "amount":
            m = _AMOUNT.search(text)
            if m:
                number = (m.group("n1") or m.group("n2")).replace(",", ".")
                return f"{number} {CURRENCIES[(m.group('cur1') or m.group('cur2')).lower()]}"
        m = self._patterns.get(slot).search(text) if slot in self._patterns else None
        return m.group(1) if m else None


def _dates(text: str, want_time: bool) -> str | None:
    from dateparser.search import search_dates

    found = search_dates(text, languages=["en"], settings={"PREFER_DATES_FROM": "future",
                                                           "RETURN_AS_TIMEZONE_AWARE": False})
    if not found:
        return None
    _, value = found[0]
    return value.strftime("%H:%M") if want_time else value.date().isoformat()
