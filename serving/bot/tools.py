"""Local functions the router can call for an intent. They are deliberately small demo services (no
network): a deployment replaces them with calls to its own systems behind the same signature,
`tool(turn) -> (answer, citations)`."""

from __future__ import annotations

import hashlib
from typing import Callable

from .turn import Turn

Tool = Callable[[Turn], tuple[str, list[dict]]]


def _stable(text: str, mod: int) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % mod


def weather(turn: Turn) -> tuple[str, list[dict]]:
    city = turn.slots.get("city")
    if not city:
        return "Which city should I check the weather for?", []
    when = turn.slots.get("date", "today")
    temp = 5 + _stable(f"{city}|{when}", 22)
    sky = ["sunny", "cloudy", "rainy", "windy", "partly cloudy"][_stable(city + when, 5)]
    return (f"The forecast for {city} ({when}) is {sky}, around {temp} degrees (demo weather service).",
            [{"source": "tool:weather", "city": city, "date": when}])


def set_alarm(turn: Turn) -> tuple[str, list[dict]]:
    time_ = turn.slots.get("time")
    if not time_:
        return "What time should the alarm ring?", []
    day = turn.slots.get("date")
    return f"Alarm set for {time_}{' on ' + day if day else ''}.", [{"source": "tool:set_alarm", "time": time_}]


def set_timer(turn: Turn) -> tuple[str, list[dict]]:
    duration = turn.slots.get("duration")
    if not duration:
        return "How long should the timer run?", []
    return f"Timer set for {duration}.", [{"source": "tool:set_timer", "duration": duration}]


def set_reminder(turn: Turn) -> tuple[str, list[dict]]:
    task = turn.slots.get("task")
    if not task:
        return "What should I remind you about?", []
    when = " ".join(v for v in (turn.slots.get("date"), turn.slots.get("time")) if v)
    return f"I'll remind you to {task}{' (' + when + ')' if when else ''}.", [{"source": "tool:set_reminder"}]


def check_balance(turn: Turn) -> tuple[str, list[dict]]:
    cents = _stable(turn.session_id, 500_000)
    return (f"Your balance is {cents // 100:,}.{cents % 100:02d} EUR (demo account).",
            [{"source": "tool:check_balance"}])


TOOLS: dict[str, Tool] = {"weather": weather, "set_alarm": set_alarm, "set_timer": set_timer,
                          "set_reminder": set_reminder, "check_balance": check_balance}
