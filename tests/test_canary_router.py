"""The weighted router as a real process between two upstreams: realised split, sticky sessions, admin,
overhead and weight metrics."""

from __future__ import annotations

import math
import sys
import time
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


def test_a_header_route_sends_its_requests_to_the_canary_whatever_the_weight(router):
    route = {"name": "X-Convbot-Canary", "value": "s3cret"}
    with httpx.Client(base_url=router, timeout=30) as c:
        shown = c.post("/admin/routes", json={"weight": 0.0, "header_route": route}).json()
        assert shown["header_route"] == "x-convbot-canary" and "s3cret" not in str(shown)  # the value stays secret
        answer = lambda headers: c.post("/v1/chat", json={"session_id": uuid.uuid4().hex, "text": "hi"},  # noqa: E731
                                        headers=headers).json()["answer"]
        assert {answer({"x-convbot-canary": "s3cret"}) for _ in range(20)} == {"canary"}
        assert {answer({"x-convbot-canary": "guess"}) for _ in range(20)} == {"stable"}  # weight 0: all stable
        samples = c.get("/admin/samples", params={"after": 0}).json()["samples"][-40:]
        assert sum(s["header_routed"] for s in samples) == 20
        assert all(s["version"] == "canary" for s in samples if s["header_routed"])
        for bad in ({"name": "x"}, {"name": "", "value": "v"}, "x-convbot-canary"):
            assert c.post("/admin/routes", json={"header_route": bad}).status_code == 400
        assert c.post("/admin/routes", json={"header_route": {}}).json()["header_route"] is None
        assert answer({"x-convbot-canary": "s3cret"}) == "stable"  # cleared
        # a refused change is refused whole: the valid header route beside a bad weight is not applied
        assert c.post("/admin/routes", json={"weight": 120, "header_route": route}).status_code == 400
        assert c.get("/admin/routes").json()["header_route"] is None


def test_the_traffic_generator_sends_its_share_of_sessions_by_the_header_route(router):
    from serving.rollout.traffic import TrafficGenerator, Utterance

    route = ("x-convbot-canary", "s3cret")
    with httpx.Client(base_url=router, timeout=30) as c:
        c.post("/admin/routes", json={"weight": 0.0, "header_route": {"name": route[0], "value": route[1]}})
        after = c.get("/admin/samples", params={"after": 0}).json()["seq"]
        traffic = TrafficGenerator(router, [Utterance("hi")], users=4, turns_per_session=3, pause_s=0.0,
                                   canary_header=route, canary_share=0.5).start()
        try:
            deadline = time.monotonic() + 60
            while c.get("/admin/samples", params={"after": after}).json()["seq"] - after < 600:
                assert time.monotonic() < deadline
        finally:
            traffic.stop()
            c.post("/admin/routes", json={"header_route": {}})
        samples = c.get("/admin/samples", params={"after": after}).json()["samples"]
    by_session: dict[str, set] = {}
    for s in samples:
        by_session.setdefault(s["session"], set()).add(s["version"])
    assert all(len(v) == 1 for v in by_session.values())  # a session stays on one version
    share = sum(v == {"canary"} for v in by_session.values()) / len(by_session)
    n = len(by_session)
    assert abs(share - 0.5) <= 3.3 * math.sqrt(0.25 / n), (share, n)
    with pytest.raises(ValueError):
        TrafficGenerator(router, [Utterance("hi")], canary_share=0.5)  # a share needs the header
