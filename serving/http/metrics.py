"""Prometheus metrics of one bot process, in its own registry (one per app: tests start several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30)


class BotMetrics:
    def __init__(self):
        r = self.registry = CollectorRegistry()
        self.requests = Counter("convbot_requests_total", "Chat requests by route, outcome and bundle version",
                                ["route", "outcome", "version"], registry=r)
        self.duration = Histogram("convbot_request_duration_seconds", "Chat request latency",
                                  ["route", "outcome", "version"], buckets=LATENCY_BUCKETS, registry=r)
        self.stage = Histogram("convbot_stage_duration_seconds", "Time per bot stage", ["stage"],
                               buckets=LATENCY_BUCKETS, registry=r)
        self.refusals = Counter("convbot_refusals_total", "Refused turns by category", ["category"], registry=r)
        self.guard_blocks = Counter("convbot_guard_blocks_total", "Inputs or outputs the guard blocked",
                                    ["category", "where"], registry=r)
        self.llm_tokens = Counter("convbot_llm_tokens_total", "Tokens the LLM generated", registry=r)
        self.ttft = Histogram("convbot_llm_time_to_first_token_seconds", "LLM time to first token",
                              buckets=LATENCY_BUCKETS, registry=r)
        self.confidence = Histogram("convbot_intent_confidence", "Calibrated confidence of the chosen intent",
                                    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0), registry=r)
        self.llm_waiting = Gauge("convbot_llm_requests_waiting", "LLM turns queued or generating", registry=r)
        self.feedback = Counter("convbot_feedback_total", "Corrections received through /v1/feedback", registry=r)
        self.errors = Counter("convbot_errors_total", "Requests answered with an error status", ["status"], registry=r)
        self.ready = Gauge("convbot_ready", "1 when every model is loaded", registry=r)
        # the session writer's (serving/bot/session_writer.py): turns stored behind their answers
        self.session_writes_waiting = Gauge("convbot_session_writes_waiting", "Answered turns not stored yet",
                                            registry=r)
        self.session_write_errors = Gauge("convbot_session_write_errors", "Turns the session writer could not "
                                          "store since the server started", registry=r)

    def watch_session_writer(self, writer) -> None:
        self.session_writes_waiting.set_function(lambda: writer.waiting)
        self.session_write_errors.set_function(lambda: writer.write_errors)

    def observe_turn(self, turn, outcome: str, version: str, seconds: float) -> None:
        self.requests.labels(turn.route or "none", outcome, version).inc()
        self.duration.labels(turn.route or "none", outcome, version).observe(seconds)
        if turn.intent is not None:
            self.confidence.observe(turn.confidence)
        if turn.refused:
            self.refusals.labels(turn.refusal_category or "default").inc()
        if turn.guard.get("blocked"):
            self.guard_blocks.labels(turn.guard.get("category") or "unknown", "input").inc()
        if turn.guard.get("output_blocked"):
            self.guard_blocks.labels(turn.guard.get("output_category") or "unknown", "output").inc()
        if turn.llm_tokens:
            self.llm_tokens.inc(turn.llm_tokens)
        if turn.ttft_ms is not None:
            self.ttft.observe(turn.ttft_ms / 1000)
