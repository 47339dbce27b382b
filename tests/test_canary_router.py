"""The weighted router as a real process between two upstreams: realised split, sticky sessions, admin,
overhead and weight metrics."""

from __future__ import annotations

import math
import sys
import uuid

import httpx
import pytest

from tests.servers import Server, free_port


def _start_echo(name: str, tmp) -> tuple[Server, str]:
    port = free_port()
    server = Server([sys.executable, "-m", "uvicorn", "--factory", "tests.echo_upstream:create_app", "--host",
                     "127.0.0.1", "--port", str(port), "--log-level", "warning"], f"http://127.0.0.1:{port}/readyz",
                    {"ECHO_NAME": name}, log=tmp / f"{name}.log", timeout=60)
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("router")
    stable, stable_url = _start_echo("stable", tmp)
    canary, canary_url = _start_echo("canary", tmp)
    port = free_port()
    router = Server([sys.executable, "-m", "serving.rollout.router", "--port", str(port), "--stable", stable_url,
                     "--canary", canary_url], f"http://127.0.0.1:{port}/healthz", log=tmp / "router.log", timeout=60)
    yield f"http://127.0.0.1:{port}"
    for s in (router, stable, canary):
        s.stop()


def _split(base: str, n: int) -> float:
    with httpx.Client(base_url=base, timeout=30) as c:
        hits = sum(c.post("/v1/chat", json={"session_id": uuid.uuid4().hex, "text": "hi"}).json()["answer"] == "canary"
                   for _ in range(n))
    return hits / n


@pytest.mark.parametrize("weight", [5.0, 25.0])
def test_realised_split_is_within_binomial_tolerance(router, weight):
    assert httpx.post(f"{router}/admin/routes", json={"weight": weight}).json()["weight"] == weight
    n = 1500
    share = _split(router, n)
    p = weight / 100
    assert abs(share - p) <= 3.3 * math.sqrt(p * (1 - p) / n), share  # ~99.9% binomial interval


def test_sessions_are_sticky_and_raising_the_weight_only_moves_stable_sessions(router):
    httpx.post(f"{router}/admin/routes", json={"weight": 25.0})
    sessions = [uuid.uuid4().hex for _ in range(200)]
    with httpx.Client(base_url=router) as c:
        first = {s: c.post("/v1/chat", json={"session_id": s, "text": "a"}).json()["answer"] for s in sessions}
        again = {s: c.post("/v1/chat", json={"session_id": s, "text": "b"}).json()["answer"] for s in sessions}
        assert first == again
        c.post("/admin/routes", json={"weight": 50.0})
        later = {s: c.post("/v1/chat", json={"session_id": s, "text": "c"}).json()["answer"] for s in sessions}
    assert all(later[s] == "canary" for s in sessions if first[s] == "canary")


def test_weight_zero_sends_nothing_to_the_canary_and_bad_weights_are_refused(router):
    httpx.post(f"{router}/admin/routes", json={"weight": 0.0})
    assert _split(router, 200) == 0.0
    assert httpx.post(f"{router}/admin/routes", json={"weight": 120}).status_code == 400


def test_router_metrics_and_samples(router):
    httpx.post(f"{router}/admin/routes", json={"weight": 25.0})
    _split(router, 100)
    text = httpx.get(f"{router}/metrics").text
    assert "convbot_canary_weight 25.0" in text
    assert 'convbot_router_requests_total{status="200",version="canary"}' in text
    assert "convbot_router_overhead_seconds_bucket" in text
    samples = httpx.get(f"{router}/admin/samples", params={"after": 0}).json()["samples"]
    assert {s["version"] for s in samples} == {"stable", "canary"}
    assert all(s["confidence"] == 0.9 and s["status"] == 200 for s in samples[-50:])
