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


KEY = bytes(range(32))  # the router's session key, given as a deployment shares it between routers
TOKEN = "admin-token-for-the-router-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("router")
    stable, stable_url = _start_echo("stable", tmp)
    canary, canary_url = _start_echo("canary", tmp)
    port = free_port()
    router = Server([sys.executable, "-m", "serving.rollout.router", "--port", str(port), "--stable", stable_url,
                     "--canary", canary_url], f"http://127.0.0.1:{port}/healthz", {"CONVBOT_ROUTER_KEY": KEY.hex(), "CONVBOT_ROUTER_ADMIN_TOKEN": TOKEN},
                    log=tmp / "router.log", timeout=60)
    yield f"http://127.0.0.1:{port}"
    for s in (router, stable, canary):
        s.stop()


def _canary_sessions(base: str, sessions: list[str]) -> set[str]:
    with httpx.Client(base_url=base, timeout=30) as c:
        return {s for s in sessions if c.post("/v1/chat", json={"session_id": s, "text": "hi"}).json()["answer"] == "canary"}


def _split(base: str, n: int) -> float:
    return len(_canary_sessions(base, [uuid.uuid4().hex for _ in range(n)])) / n


@pytest.mark.parametrize("weight", [5.0, 25.0])
def test_realised_split_is_the_keyed_hash_and_within_binomial_tolerance(router, weight):
    from serving.rollout.router import goes_to_canary

    assert httpx.post(f"{router}/admin/routes", json={"weight": weight}, headers=ADMIN).json()["weight"] == weight
    n = 1500
    sessions = [f"split-session-{i}" for i in range(n)]  # fixed, with a fixed key: the same verdict every run
    canary = _canary_sessions(router, sessions)
    assert canary == {s for s in sessions if goes_to_canary(s, weight, KEY)}  # the router uses the key it was given
    p = weight / 100
    assert abs(len(canary) / n - p) <= 3.3 * math.sqrt(p * (1 - p) / n), len(canary) / n  # ~99.9% binomial interval


def test_sessions_that_start_before_the_route_is_set_never_move_when_it_arrives(router):
    from serving.rollout.controller import HeaderRoute
    from serving.rollout.traffic import TrafficGenerator, Utterance

    route = HeaderRoute("x-convbot-analysis", "c" * 24, "s" * 24)

    def wait_for(c, after, n):
        deadline = time.monotonic() + 60
        while c.get("/admin/samples", params={"after": after}, headers=ADMIN).json()["seq"] - after < n:
            assert time.monotonic() < deadline
            time.sleep(0.2)

    with httpx.Client(base_url=router, timeout=30) as c:
        c.post("/admin/routes", json={"weight": 0.0, "header_route": {}}, headers=ADMIN)  # the golden phase
        after = c.get("/admin/samples", params={"after": 0}, headers=ADMIN).json()["seq"]
        traffic = TrafficGenerator(router, [Utterance("hi")], users=4, turns_per_session=20, pause_s=0.01,
                                   analysis=route, analysis_share=1.0).start()
        try:
            wait_for(c, after, 100)
            # the route arrives (at weight 0 here, so that only the header could move a session)
            c.post("/admin/routes", json={"header_route": route.for_router()}, headers=ADMIN)
            wait_for(c, after, 600)
        finally:
            traffic.stop()
            c.post("/admin/routes", json={"weight": 0.0, "header_route": {}}, headers=ADMIN)
        samples = c.get("/admin/samples", params={"after": after}, headers=ADMIN).json()["samples"]
    sessions: dict[str, set] = {}
    for s in samples:
        sessions.setdefault(s["session"], set()).add((s["version"], s["header_routed"]))
    # every session pinned from its first turn or never (sessions of the golden phase go by the weight)
    assert all(len(v) == 1 for v in sessions.values()), [v for v in sessions.values() if len(v) > 1]
    kinds = [next(iter(v)) for v in sessions.values()]
    assert ("canary", True) in kinds and ("stable", True) in kinds and ("stable", False) in kinds


def test_the_admin_endpoints_need_the_token_and_probes_do_not(router):
    before = httpx.get(f"{router}/admin/routes", headers=ADMIN).json()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = httpx.post(f"{router}/admin/routes", json={"weight": 100.0}, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        assert httpx.get(f"{router}/admin/samples", headers=headers).status_code == 401
    assert httpx.get(f"{router}/admin/routes", headers=ADMIN).json() == before  # nothing changed
    assert httpx.get(f"{router}/healthz").status_code == 200 and httpx.get(f"{router}/metrics").status_code == 200
    assert TOKEN not in httpx.get(f"{router}/healthz").text


def test_a_router_key_that_is_not_hex_or_too_short_is_refused():
    from serving.rollout.router import key_from_env

    assert key_from_env({}) is None and key_from_env({"CONVBOT_ROUTER_KEY": KEY.hex()}) == KEY
    for bad, says in (("zz" * 16, "must be hex"), ("ab" * 8 + "a", "must be hex"), ("ab" * 15, "15 bytes")):
        with pytest.raises(ValueError, match=says):
            key_from_env({"CONVBOT_ROUTER_KEY": bad})


def test_sessions_are_sticky_and_raising_the_weight_only_moves_stable_sessions(router):
    httpx.post(f"{router}/admin/routes", json={"weight": 25.0}, headers=ADMIN)
    sessions = [uuid.uuid4().hex for _ in range(200)]
    with httpx.Client(base_url=router) as c:
        first = {s: c.post("/v1/chat", json={"session_id": s, "text": "a"}).json()["answer"] for s in sessions}
        again = {s: c.post("/v1/chat", json={"session_id": s, "text": "b"}).json()["answer"] for s in sessions}
        assert first == again
        c.post("/admin/routes", json={"weight": 50.0}, headers=ADMIN)
        later = {s: c.post("/v1/chat", json={"session_id": s, "text": "c"}).json()["answer"] for s in sessions}
    assert all(later[s] == "canary" for s in sessions if first[s] == "canary")


def test_weight_zero_sends_nothing_to_the_canary_and_bad_weights_are_refused(router):
    httpx.post(f"{router}/admin/routes", json={"weight": 0.0}, headers=ADMIN)
    assert _split(router, 200) == 0.0
    assert httpx.post(f"{router}/admin/routes", json={"weight": 120}, headers=ADMIN).status_code == 400


def test_router_metrics_and_samples(router):
    httpx.post(f"{router}/admin/routes", json={"weight": 25.0}, headers=ADMIN)
    _split(router, 100)
    text = httpx.get(f"{router}/metrics").text
    assert "convbot_canary_weight 25.0" in text
    assert 'convbot_router_requests_total{status="200",version="canary"}' in text
    assert "convbot_router_overhead_seconds_bucket" in text
    samples = httpx.get(f"{router}/admin/samples", params={"after": 0}, headers=ADMIN).json()["samples"]
    assert {s["version"] for s in samples} == {"stable", "canary"}
    assert all(s["confidence"] == 0.9 and s["status"] == 200 for s in samples[-50:])


ROUTE = {"name": "X-Convbot-Analysis", "canary": "c" * 24, "stable": "s" * 24}


def test_a_header_route_pins_its_requests_to_a_version_whatever_the_weight(router):
    with httpx.Client(base_url=router, timeout=30) as c:
        shown = c.post("/admin/routes", json={"weight": 100.0, "header_route": ROUTE}, headers=ADMIN).json()
        assert shown["header_route"] == "x-convbot-analysis" and "c" * 24 not in str(shown)  # the values stay secret
        assert "c" * 24 not in c.get("/healthz").text
        answer = lambda headers: c.post("/v1/chat", json={"session_id": uuid.uuid4().hex, "text": "hi"},  # noqa: E731
                                        headers=headers).json()["answer"]
        assert {answer({"x-convbot-analysis": "s" * 24}) for _ in range(20)} == {"stable"}  # at 100%
        c.post("/admin/routes", json={"weight": 0.0}, headers=ADMIN)
        assert {answer({"x-convbot-analysis": "c" * 24}) for _ in range(20)} == {"canary"}  # at 0%
        assert {answer({"x-convbot-analysis": "guess"}) for _ in range(20)} == {"stable"}  # by weight: 0%
        samples = c.get("/admin/samples", params={"after": 0}, headers=ADMIN).json()["samples"][-60:]
        assert sum(s["header_routed"] for s in samples) == 40
        for bad in ({"name": "x"}, {"name": "", "canary": "c" * 24, "stable": "s" * 24},
                    {**ROUTE, "stable": "short"}, {**ROUTE, "stable": "c" * 24}, "x-convbot-analysis"):
            assert c.post("/admin/routes", json={"header_route": bad}, headers=ADMIN).status_code == 400
        assert c.post("/admin/routes", json=["not", "an", "object"], headers=ADMIN).status_code == 400
        assert c.post("/admin/routes", json={"header_route": {}}, headers=ADMIN).json()["header_route"] is None
        assert answer({"x-convbot-analysis": "c" * 24}) == "stable"  # cleared
        # a refused change is refused whole: the valid header route beside a bad weight is not applied
        assert c.post("/admin/routes", json={"weight": 120, "header_route": ROUTE}, headers=ADMIN).status_code == 400
        assert c.get("/admin/routes", headers=ADMIN).json()["header_route"] is None


def test_the_session_hash_is_keyed_so_a_user_cannot_choose_the_canary():
    from serving.rollout.router import goes_to_canary

    sessions = [f"s{i}" for i in range(2000)]
    one = [goes_to_canary(s, 25.0, b"first key") for s in sessions]
    two = [goes_to_canary(s, 25.0, b"other key") for s in sessions]
    assert one != two and abs(sum(one) / 2000 - 0.25) < 0.04 and abs(sum(two) / 2000 - 0.25) < 0.04
    # under one key, raising the weight only adds sessions
    assert all(goes_to_canary(s, 50.0, b"first key") for s, c in zip(sessions, one) if c)


def test_the_traffic_generator_pins_its_share_of_sessions_half_to_each_version(router):
    from serving.rollout.controller import HeaderRoute
    from serving.rollout.traffic import TrafficGenerator, Utterance

    route = HeaderRoute("x-convbot-analysis", "c" * 24, "s" * 24)
    with httpx.Client(base_url=router, timeout=30) as c:
        c.post("/admin/routes", json={"weight": 0.0, "header_route": route.for_router()}, headers=ADMIN)
        after = c.get("/admin/samples", params={"after": 0}, headers=ADMIN).json()["seq"]
        traffic = TrafficGenerator(router, [Utterance("hi")], users=4, turns_per_session=3, pause_s=0.0,
                                   analysis=route, analysis_share=0.5).start()
        try:
            deadline = time.monotonic() + 60
            while c.get("/admin/samples", params={"after": after}, headers=ADMIN).json()["seq"] - after < 900:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        finally:
            traffic.stop()
            c.post("/admin/routes", json={"header_route": {}}, headers=ADMIN)
        samples = c.get("/admin/samples", params={"after": after}, headers=ADMIN).json()["samples"]
    sessions: dict[str, set] = {}
    for s in samples:
        sessions.setdefault(s["session"], set()).add((s["version"], s["header_routed"]))
    assert all(len(v) == 1 for v in sessions.values())  # a session stays on one version, pinned or not
    kinds = [next(iter(v)) for v in sessions.values()]
    n = len(kinds)
    pinned = [version for version, routed in kinds if routed]
    assert abs(len(pinned) / n - 0.5) <= 3.3 * math.sqrt(0.25 / n), (len(pinned), n)
    assert abs(pinned.count("canary") / len(pinned) - 0.5) <= 3.3 * math.sqrt(0.25 / len(pinned))
    assert all(version == "stable" for version, routed in kinds if not routed)  # weight 0
    assert "c" * 24 not in repr(route)
    with pytest.raises(ValueError):
        TrafficGenerator(router, [Utterance("hi")], analysis_share=0.5)  # a share needs the route


def test_upstreams_printed_without_a_scheme_are_taken_as_http():
    from serving.rollout.router import with_scheme

    assert with_scheme("44.201.119.3:30001\n") == "http://44.201.119.3:30001"  # as `sky serve status --endpoint`
    assert with_scheme("https://bot.example.com") == "https://bot.example.com"
