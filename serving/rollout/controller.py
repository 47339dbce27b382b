"""The canary controller: stage 0 replays a golden set against the exact bundle, then 5% -> 25% -> 100% of
sessions, each stage baked for a time and a minimum of requests and decided by `analysis.judge`.

`tick()` makes at most one transition, so every step is easy to follow and to test:

    Pending  --golden set passes-->            Running at the first weight
    Running  --critical metric fails (any tick)--> Failed   (weight 0, canary stopped, alert, record)
    Running  --bake over, enough requests, judged Successful--> next weight, or Successful at the last
    Running  --judged Inconclusive--> bake extended (up to max_extensions), then Failed
    Running  --judged Failed-->                 Failed
    Successful: `promote` moves `champion` (the registry re-reads the release gate's verdict), the target
    makes the canary's bundle stable and retires the canary.

Analysis traffic: with a `HeaderRoute` (a header name and two secret values, fresh per rollout) every stage pins
requests that carry the header to the canary or to stable (Argo Rollouts' `setHeaderRoute`), and a traffic
generator sends that many of its sessions to each: the analysis gets canary samples at the rate the service
serves, not at 5% of it, and compares canary with stable on the same traffic (the same prompts, in equal
shares). While a stage has pinned samples its metrics are judged on them alone; the critical metrics' early
check also reads every request, users' included. Users' sessions follow the weight. Records count the pinned
samples apart (`stable_header_routed`, `canary_header_routed`).

Stable's samples accumulate over the whole rollout, so at 100% (no stable traffic left) the canary is
compared with everything stable served before; load-dependent metrics (latency) are judged only at the
stages where both versions serve at once, since at 100% the canary carries the whole load.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

from .analysis import ALPHA, DEFAULT_METRICS, MetricSpec, Phase, compare, judge

SIGNALS = {
    "error_rate": lambda s: float(s["status"] >= 500),
    "latency_ms": lambda s: s["latency_ms"],
    "refusal_rate": lambda s: float(bool(s.get("refused"))),
    "guard_block_rate": lambda s: float(bool(s.get("guard_blocked"))),
    "intent_confidence": lambda s: s.get("confidence"),
}


@dataclass(frozen=True)
class RolloutConfig:
    weights: tuple[float, ...] = (5.0, 25.0, 100.0)
    bake_s: float = 20.0  # minimum time at each weight
    min_requests: int = 30  # minimum canary requests at each weight (a floor: fewer can never pass)
    max_extensions: int = 8  # inconclusive stages (too few requests yet) get this many more bakes, then abort
    # share of the traffic generator's sessions pinned by the header route, half to each version (0: all by weight)
    analysis_share: float = 0.8
    metrics: tuple[MetricSpec, ...] = DEFAULT_METRICS


@dataclass
class RolloutState:
    phase: Phase = Phase.PENDING
    stage: int = -1  # -1: golden set; then an index into weights
    weight: float = 0.0
    stage_started: float = 0.0
    bake_until: float = 0.0
    extensions: int = 0
    cursor: int = 0  # router sample sequence at the start of the stage
    first_bad_request_at: float | None = None
    finished_at: float | None = None
    reason: str = ""


CANARY_HEADER = "x-convbot-analysis"


@dataclass(frozen=True)
class HeaderRoute:
    """The header route of one rollout: a header name and a fresh secret value per version (a client without them
    cannot pick a version)."""

    name: str
    canary: str
    stable: str

    @classmethod
    def new(cls) -> "HeaderRoute":
        return cls(CANARY_HEADER, secrets.token_urlsafe(24), secrets.token_urlsafe(24))

    def headers(self, version: str) -> dict[str, str]:
        return {self.name: self.canary if version == "canary" else self.stable}

    def for_router(self) -> dict[str, str]:
        return {"name": self.name, "canary": self.canary, "stable": self.stable}

    def __repr__(self) -> str:  # never print the secrets
        return f"HeaderRoute(name={self.name!r})"


def split_samples(samples: Sequence[dict]) -> dict[str, list[dict]]:
    out = {"stable": [], "canary": []}
    for s in samples:
        if s.get("path") in ("/v1/chat", "/v1/chat/stream", "/v1/feedback"):
            out[s["version"]].append(s)
    return out


def metric_values(name: str, samples: list[dict]) -> list[float]:
    if name == "correction_rate":  # corrections per answered chat turn
        chats = [s for s in samples if s["path"] == "/v1/chat"]
        corrections = sum(1 for s in samples if s["path"] == "/v1/feedback" and s["status"] < 400)
        return [1.0] * min(corrections, len(chats)) + [0.0] * max(len(chats) - corrections, 0)
    chats = samples if name == "error_rate" else [s for s in samples if s["path"] == "/v1/chat" and s["status"] < 500]
    values = [SIGNALS[name](s) for s in chats]
    return [v for v in values if v is not None]


class RolloutController:
    def __init__(self, target, cfg: RolloutConfig, golden: Callable[[str], tuple[bool, dict]],
                 promote: Callable[[], None], record: Callable[[dict], None], alert: Callable[[str], None],
                 context: dict, clock: Callable[[], float] = time.time, header_route: HeaderRoute | None = None):
        self.target, self.cfg, self.golden = target, cfg, golden
        self.header_route = header_route
        self.promote, self.record, self.alert = promote, record, alert
        self.context = context  # bundle, version, manifest hash, data version, gate metrics: copied into every record
        self.clock = clock
        self.state = RolloutState()
        self.stable_reference: list[dict] = []
        self.history: list[dict] = []

    # --- transitions ---
    def tick(self) -> Phase:
        s = self.state
        if s.phase.completed:
            return s.phase
        now = self.clock()
        if s.phase == Phase.PENDING:
            ok, details = self.golden(self.target.endpoint("canary"))
            self._record("golden", 0.0, Phase.SUCCESSFUL if ok else Phase.FAILED, details, now, now)
            if not ok:
                return self._abort(f"golden set failed: {details.get('reason', details)}", now)
            return self._go_to(0, now)

        samples = self.target.samples(s.cursor)
        sides = split_samples(samples)
        self._note_first_bad(sides["canary"])
        judged = self._judged(sides)
        critical = [sp for sp in self.cfg.metrics if sp.critical]
        alpha = ALPHA / len(self.cfg.metrics)
        early = [("", compare(sp, metric_values(sp.name, self.stable_reference + judged["stable"]),
                              metric_values(sp.name, judged["canary"]), s.stage_started, alpha)) for sp in critical]
        if judged is not sides:  # users' requests too: a canary that fails them fails whatever the analysis says
            early = [(" (analysis traffic)", m) for _, m in early]
            early += [(" (all traffic)", compare(sp, metric_values(sp.name, sides["stable"]),
                                                 metric_values(sp.name, sides["canary"]), s.stage_started, alpha))
                      for sp in critical]
        failed = [(where, m) for where, m in early if m.phase == Phase.FAILED]
        if failed:
            self._record(f"stage {s.stage}", s.weight, Phase.FAILED,
                         {"measurements": [{**m.to_dict(), "traffic": where.strip(" ()") or "all"} for where, m in failed],
                          "early": True}, s.stage_started, now, sides)
            return self._abort(f"critical metric failed at {s.weight:g}%: "
                               + ", ".join(m.metric + where for where, m in failed), now)
        if now < s.bake_until or len(judged["canary"]) < self.cfg.min_requests:
            return s.phase
        specs = [sp for sp in self.cfg.metrics if not (sp.load_dependent and s.weight >= 100.0)]
        measurements = [compare(sp, metric_values(sp.name, self.stable_reference + judged["stable"]),
                                metric_values(sp.name, judged["canary"]), s.stage_started, alpha) for sp in specs]
        verdict = judge(measurements, specs)
        self._record(f"stage {s.stage}", s.weight, verdict.phase,
                     {"score": round(verdict.score, 4), "measurements": [m.to_dict() for m in measurements],
                      "not_compared": [sp.name for sp in self.cfg.metrics if sp not in specs]},
                     s.stage_started, now, sides)
        if verdict.phase == Phase.SUCCESSFUL:
            self.stable_reference += judged["stable"]
            if s.stage == len(self.cfg.weights) - 1:
                return self._succeed(now)
            return self._go_to(s.stage + 1, now)
        if verdict.phase == Phase.INCONCLUSIVE and s.extensions < self.cfg.max_extensions:
            s.extensions += 1
            s.bake_until = now + self.cfg.bake_s
            return s.phase
        return self._abort(f"{verdict.phase.value} at {s.weight:g}% (score {verdict.score:.2f}): "
                           + "; ".join(verdict.reasons[:3]), now)

    def run(self, tick_s: float = 1.0, timeout_s: float = 1800.0) -> Phase:
        deadline = self.clock() + timeout_s
        while not self.tick().completed:
            if self.clock() > deadline:
                return self._abort(f"rollout did not finish within {timeout_s:g} s", self.clock())
            time.sleep(tick_s)
        return self.state.phase

    # --- helpers ---
    def _judged(self, sides: dict[str, list[dict]]) -> dict[str, list[dict]]:
        """The samples a stage is judged on: the pinned analysis traffic when there is any, else everything."""
        if self.header_route is None:
            return sides
        pinned = {k: [x for x in v if x.get("header_routed")] for k, v in sides.items()}
        return pinned if pinned["canary"] or pinned["stable"] else sides

    def _go_to(self, stage: int, now: float) -> Phase:
        s = self.state
        weight = self.cfg.weights[stage]
        self.target.set_routes(weight, header_route=self.header_route)
        s.stage, s.weight, s.phase = stage, weight, Phase.RUNNING
        s.stage_started, s.bake_until, s.extensions = now, now + self.cfg.bake_s, 0
        s.cursor = max([x["seq"] for x in self.target.samples(s.cursor)] or [s.cursor])
        return s.phase

    def _abort(self, reason: str, now: float) -> Phase:
        s = self.state
        self.target.set_routes(0, clear_canary=True)
        self.target.stop("canary")
        s.phase, s.weight, s.finished_at, s.reason = Phase.FAILED, 0.0, self.clock(), reason
        self._record("rollback", 0.0, Phase.FAILED, {"reason": reason}, now, s.finished_at)
        self.alert(f"canary of {self.context.get('bundle')} v{self.context.get('version')} rolled back: {reason}")
        return s.phase

    def _succeed(self, now: float) -> Phase:
        s = self.state
        self.promote()
        self.target.promote_canary()
        s.phase, s.finished_at, s.reason = Phase.SUCCESSFUL, self.clock(), "promoted to champion"
        self._record("promotion", 100.0, Phase.SUCCESSFUL, {"reason": s.reason}, now, s.finished_at)
        return s.phase

    def _note_first_bad(self, canary: list[dict]) -> None:
        bad = [x["t"] for x in canary if x["status"] >= 500]
        if bad and self.state.first_bad_request_at is None:
            self.state.first_bad_request_at = min(bad)

    def _record(self, stage: str, weight: float, verdict: Phase, details: dict, started: float, finished: float,
                sides: dict | None = None) -> None:
        entry = {**self.context, "stage": stage, "weight": weight, "verdict": verdict.value,
                 "samples": self._counts(sides), "started_at": started,
                 "finished_at": finished, **details}
        self.history.append(entry)
        self.record(entry)

    def _counts(self, sides: dict | None) -> dict:
        counts = {k: len(v) for k, v in (sides or {}).items()}
        if sides and self.header_route is not None:
            counts.update({f"{k}_header_routed": sum(1 for x in v if x.get("header_routed")) for k, v in sides.items()})
        return counts

    def summary(self) -> dict:
        return {**asdict(self.state), "phase": self.state.phase.value, "records": len(self.history)}


def weights_over_time(history: list[dict]) -> list[tuple[float, float]]:
    return [(h["finished_at"], h["weight"]) for h in history]
