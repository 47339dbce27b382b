"""A traffic generator for the local canary: virtual users replaying held-out utterances and safe prompts
through the router, a few turns per session, correcting the bot when it got their intent wrong (the
correction rate the canary analysis compares).

With `analysis` (the rollout's `HeaderRoute`) a share of its sessions are analysis traffic: each carries the header
on every request, half of them with the canary's value and half with stable's, so the router pins them to that
version whatever the weight, and the analysis compares both versions on the same traffic. The other sessions
are routed like users' sessions, by the weight. Sessions that start before the router has the route (while
the golden set runs) go by the weight too: pinned from their first turn or not at all, so no session moves
from stable to the canary when the route arrives."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Utterance:
    text: str
    intent: str | None = None  # expected intent, when known: a wrong one draws a correction


class TrafficGenerator:
    def __init__(self, base_url: str, utterances: list[Utterance], users: int = 4, turns_per_session: int = 4,
                 pause_s: float = 0.05, seed: int = 0, analysis=None, analysis_share: float = 0.0):
        if not 0.0 <= analysis_share <= 1.0:
            raise ValueError(f"analysis_share {analysis_share} is not within 0-1")
        if analysis_share and analysis is None:
            raise ValueError("analysis_share needs the rollout's header route (analysis=...)")
        self.base_url, self.utterances = base_url, utterances
        self.analysis, self.analysis_share = analysis, analysis_share
        self.users, self.turns, self.pause_s = users, turns_per_session, pause_s
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sent = 0
        self.errors = 0
        self._route_seen = False  # once the router has the route it keeps it for the rollout

    def _user(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            while not self._stop.is_set():
                session = f"traffic-{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}"
                pinned = self.analysis_share > 0 and rng.random() < self.analysis_share
                version = rng.choice(("canary", "stable")) if pinned else None
                headers = self.analysis.headers(version) if pinned and self._route_live(client) else {}
                for _ in range(self.turns):
                    if self._stop.is_set():
                        return
                    u = rng.choice(self.utterances)
                    try:
                        r = client.post("/v1/chat", json={"session_id": session, "text": u.text}, headers=headers)
                        self.sent += 1
                        if r.status_code >= 500:
                            self.errors += 1
                        elif r.status_code == 200 and u.intent and r.json().get("intent") != u.intent:
                            correction = f"I meant {u.intent.replace('_', ' ')}."
                            client.post("/v1/feedback", headers=headers, json={
                                "session_id": session, "turn_id": r.json()["turn_id"], "correction": correction})
                    except httpx.HTTPError:
                        self.errors += 1
                    time.sleep(self.pause_s)

    def _route_live(self, client: httpx.Client) -> bool:
        """Whether the router pins requests by the rollout's header yet (its /healthz names the route)."""
        if not self._route_seen:
            try:
                shown = client.get("/healthz").json().get("header_route")
            except (httpx.HTTPError, ValueError):
                return False
            self._route_seen = shown == self.analysis.name.lower()
        return self._route_seen

    def start(self) -> "TrafficGenerator":
        for i in range(self.users):
            t = threading.Thread(target=self._user, args=(self.rng.getrandbits(32) + i,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)
