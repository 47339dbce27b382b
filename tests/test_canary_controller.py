"""The controller's stage decisions on scripted router samples (no processes): latency is compared while both
versions serve at once, not at 100% where the canary carries the whole load."""

from __future__ import annotations

import itertools

from serving.rollout.analysis import Phase
from serving.rollout.controller import HeaderRoute, RolloutConfig, RolloutController


class ScriptedTarget:
    """Router samples made up per weight: stable answers in `stable_ms`, the canary in `canary_ms[weight]`."""

    def __init__(self, canary_ms: dict[float, float], stable_ms: float = 10.0):
        self.canary_ms, self.stable_ms = canary_ms, stable_ms
        self.weight, self.seq, self.log = 0.0, itertools.count(1), []
        self.header_routes = []

    def set_routes(self, weight, clear_canary=False, header_route=None):
        self.weight = weight
        self.header_routes.append(header_route)

    def samples(self, cursor):
        # between two looks the router has served 1,000 requests, split by the current weight
        for i in range(1000):
            version = "canary" if i % 100 < self.weight else "stable"
            ms = self.canary_ms.get(self.weight, self.stable_ms) if version == "canary" else self.stable_ms
            self.log.append({"seq": next(self.seq), "t": float(i), "path": "/v1/chat", "version": version,
                             "status": 200, "latency_ms": ms * (1 + i % 7 / 50), "refused": False,
                             "guard_blocked": False, "confidence": 0.9})
        return [x for x in self.log if x["seq"] > cursor]

    def endpoint(self, role):
        return "http://scripted"

    def stop(self, role):
        pass

    def promote_canary(self):
        pass


def _run(target) -> RolloutController:
    clock = itertools.count(0.0, 10.0)
    controller = RolloutController(target, RolloutConfig(weights=(25.0, 50.0, 100.0), bake_s=1.0, min_requests=20,
                                                         max_extensions=0),
                                   golden=lambda url: (True, {}), promote=lambda: None, record=lambda e: None,
                                   alert=lambda m: None, context={}, clock=lambda: next(clock))
    for _ in range(20):
        if controller.tick().completed:
            break
    return controller


def test_a_canary_slower_only_under_the_whole_load_is_promoted():
    controller = _run(ScriptedTarget({100.0: 14.0}))  # 40% slower at 100%, equal while sharing
    assert controller.state.phase == Phase.SUCCESSFUL
    last = [h for h in controller.history if h["stage"] == "stage 2"][-1]
    assert last["not_compared"] == ["latency_ms"]
    assert "latency_ms" not in {m["metric"] for m in last["measurements"]}


def test_a_canary_slower_while_sharing_the_load_is_rolled_back():
    controller = _run(ScriptedTarget({25.0: 30.0, 50.0: 30.0, 100.0: 30.0}))
    assert controller.state.phase == Phase.FAILED
    assert "latency_ms" in controller.state.reason


class WithUsers(ScriptedTarget):
    """As ScriptedTarget, plus pinned analysis traffic (every 3rd request, to each version in turn): the canary
    refuses every one of its weighted users' prompts (its users write differently), but the pinned traffic, the
    same prompts for both versions, shows no difference."""

    def samples(self, cursor):
        fresh = super().samples(cursor)
        for x in fresh:
            if "header_routed" not in x:
                x["header_routed"] = x["seq"] % 3 == 0
                if x["header_routed"]:
                    x["version"] = "canary" if x["seq"] % 2 else "stable"
                x["refused"] = x["version"] == "canary" and not x["header_routed"]
        return fresh


def _run_with(target, route):
    clock = itertools.count(0.0, 10.0)
    controller = RolloutController(target, RolloutConfig(weights=(25.0, 100.0), bake_s=1.0, min_requests=20,
                                                         max_extensions=0),
                                   golden=lambda url: (True, {}), promote=lambda: None, record=lambda e: None,
                                   alert=lambda m: None, context={}, clock=lambda: next(clock), header_route=route)
    for _ in range(20):
        if controller.tick().completed:
            break
    return controller


def test_with_a_header_route_stages_are_judged_on_the_pinned_traffic_and_records_count_it():
    route = HeaderRoute.new()
    target = WithUsers({})
    controller = _run_with(target, route)
    assert controller.state.phase == Phase.SUCCESSFUL, controller.state.reason
    assert target.header_routes == [route, route]  # set at every stage
    stage = [h for h in controller.history if h["stage"] == "stage 0"][-1]
    assert 0 < stage["samples"]["canary_header_routed"] < stage["samples"]["canary"]
    assert 0 < stage["samples"]["stable_header_routed"] < stage["samples"]["stable"]
    # without the route the same samples are judged all together, and the users' refusals fail the canary
    assert _run_with(WithUsers({}), None).state.phase == Phase.FAILED


def test_a_canary_failing_its_users_fails_early_even_when_the_pinned_traffic_is_fine():
    class FailsUsers(WithUsers):
        def samples(self, cursor):
            fresh = super().samples(cursor)
            for x in fresh:
                if x["version"] == "canary" and not x["header_routed"]:
                    x["status"] = 500
            return fresh

    controller = _run_with(FailsUsers({}), HeaderRoute.new())
    assert controller.state.phase == Phase.FAILED and "error_rate (all traffic)" in controller.state.reason
    assert "analysis traffic" not in controller.state.reason
