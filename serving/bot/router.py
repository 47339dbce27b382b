"""The router: per-intent handlers declared in config (template, retrieval, tool, llm); low confidence asks
a clarifying question (or goes to the LLM). Thresholds act on the classifier's calibrated confidence."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.catalog import OUT_OF_SCOPE

from .knowledge import KnowledgeBase
from .tools import TOOLS
from .turn import Turn

HANDLER_TYPES = {"template", "retrieval", "tool", "llm"}


def check_config(config: dict, labels: list[str]) -> None:
    """Every handler names a known type (and tool); every intent of the classifier has a handler or a default."""
    handlers = config.get("handlers") or {}
    for intent, h in {**handlers, "default": config.get("default") or {"type": "llm"}}.items():
        if h.get("type") not in HANDLER_TYPES:
            raise ValueError(f"bot config, handlers.{intent}.type: '{h.get('type')}' is not one of {sorted(HANDLER_TYPES)}")
        if h["type"] == "tool" and h.get("tool") not in TOOLS:
            raise ValueError(f"bot config, handlers.{intent}.tool: unknown tool '{h.get('tool')}' ({sorted(TOOLS)})")
        if h["type"] == "template" and not h.get("text"):
            raise ValueError(f"bot config, handlers.{intent}.text: a template handler needs text")
    if "default" not in config and set(labels) - set(handlers):
        raise ValueError(f"bot config: no handler and no default for {sorted(set(labels) - set(handlers))}")


class _Slots(dict):
    def __missing__(self, key):  # a template may name a slot the utterance did not give
        return ""


@dataclass
class Router:
    config: dict
    knowledge: KnowledgeBase | None
    name: str = "router"
    always: bool = False
    clarify_text: str = "Just to be sure I help with the right thing: could you say a little more about what you need?"
    handlers: dict = field(init=False)

    def __post_init__(self):
        self.handlers = self.config.get("handlers") or {}

    def handler_for(self, intent: str | None) -> dict:
        return self.handlers.get(intent or "", self.config.get("default") or {"type": "llm"})

    def __call__(self, turn: Turn) -> Turn:
        in_scope = turn.intent not in (None, OUT_OF_SCOPE)
        if in_scope and turn.confidence < float(self.config.get("clarify_below", 0.0)):
            if self.config.get("low_confidence", "clarify") == "clarify":
                turn.finish("clarify", self.clarify_text)
                return turn
            turn.route = "llm"
            return turn
        handler = self.handler_for(turn.intent)
        kind = handler["type"]
        if kind == "llm":
            turn.route = "llm"  # the LLM stage answers
            return turn
        if kind == "template":
            for slot, question in (handler.get("ask") or {}).items():
                if not turn.slots.get(slot):
                    turn.finish("template", question)
                    return turn
            values = _Slots(turn.slots)
            values["date_phrase"] = f" {turn.slots['date']}" if turn.slots.get("date") else ""
            turn.finish("template", handler["text"].format_map(values))
        elif kind == "tool":
            answer, citations = TOOLS[handler["tool"]](turn)
            turn.citations = citations
            turn.finish("tool", answer)
        elif kind == "retrieval":
            if self.knowledge is None:
                turn.route = "llm"
                return turn
            entry, score = self.knowledge.search(turn.clean, turn.intent, k=1)[0]
            turn.citations = [{"id": entry.id, "source": entry.source, "score": round(score, 3)}]
            turn.finish("retrieval", entry.answer)
        return turn
