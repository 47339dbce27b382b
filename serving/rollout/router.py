"""The weighted router in front of the stable and canary bots (its own small ASGI app).

A request goes to the canary when a keyed hash of its session id (HMAC with a secret the router draws at
start) falls under the canary weight, so a conversation stays on one version (raising the weight only moves
sessions from stable to canary) and a user cannot choose a session id that lands on the canary.
Weights change at run time through the admin endpoints (`set_routes(stable, canary)` in Flagger's
terms). A header route (Argo Rollouts' `setHeaderRoute`) pins requests that carry one header to a version
whatever the weight: one secret value for the canary, another for stable, fresh per rollout, so that the
rollout's analysis traffic reaches both versions in equal shares on a quiet service, while users' sessions
follow the weight. Every proxied request is recorded as a sample (version, status, latency, and the bot's own
signals read from its answer) for the canary analysis, and counted in the router's /metrics:
`convbot_canary_weight`, per-version requests and upstream latency, and the router's own overhead.

    python -m serving.rollout.router --port 8000 --stable http://127.0.0.1:8001 [--canary ... --weight 5]

Several routers in front of the same versions (behind a load balancer) must agree on where a session goes:
give them the same key in `CONVBOT_ROUTER_KEY` (hex, 16 bytes or more; from the environment, never argv,
which any local user can read). `CONVBOT_ROUTER_ADMIN_TOKEN` guards the admin endpoints (a bearer token;
the `local` target always sets one); without it they are open to anyone who can reach the router, which
binds loopback only, and the router says so at start. /healthz and /metrics stay open, for probes and
Prometheus.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

BUCKETS = 10_000  # weight resolution: 0.01%
OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05)


def bucket_of(session_id: str, key: bytes) -> int:
    return int(hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()[:8], 16) % BUCKETS


def goes_to_canary(session_id: str, weight: float, key: bytes) -> bool:
    return bucket_of(session_id, key) < weight / 100 * BUCKETS


class RouterState:
    def __init__(self, stable: str, canary: str | None, weight: float, max_samples: int = 200_000,
                 key: bytes | None = None):
        self.lock = threading.Lock()
        self.key = key or secrets.token_bytes(16)  # kept for the router's life: sessions stay where they are
        self.stable, self.canary, self.weight = stable, canary, float(weight)
        # (lower-case header name, {value: version}): the values are secrets, never shown
        self.header_route: tuple[str, dict[str, str]] | None = None
        self._snapshot = (self.stable, self.canary, self.weight, self.header_route)
        self.samples: collections.deque = collections.deque(maxlen=max_samples)
        self.seq = 0
        r = self.registry = CollectorRegistry()
        self.weight_gauge = Gauge("convbot_canary_weight", "Share of sessions sent to the canary (percent)", registry=r)
        self.requests = Counter("convbot_router_requests_total", "Proxied requests", ["version", "status"], registry=r)
        self.upstream = Histogram("convbot_router_upstream_seconds", "Upstream round trip", ["version"], registry=r)
        self.overhead = Histogram("convbot_router_overhead_seconds", "Time spent in the router itself",
                                  buckets=OVERHEAD_BUCKETS, registry=r)
        self.weight_gauge.set(self.weight)

    def set_routes(self, stable: str | None = None, canary: str | None = None, weight: float | None = None,
                   clear_canary: bool = False, header_route: dict | None = None) -> dict:
        """Validated first, then applied whole: a refused change leaves every route as it was."""
        with self.lock:
            route = self.header_route
            if header_route is not None:  # {} clears it
                route = _parse_header_route(header_route)
            new_stable, new_canary, new_weight = stable or self.stable, canary or self.canary, self.weight
            if clear_canary:
                new_canary, new_weight, route = None, 0.0, None
            if weight is not None:
                if not 0 <= weight <= 100:
                    raise ValueError(f"weight {weight} is not within 0-100")
                if weight > 0 and not new_canary:
                    raise ValueError("no canary upstream to send traffic to")
                new_weight = float(weight)
            self.stable, self.canary, self.weight, self.header_route = new_stable, new_canary, new_weight, route
            self.weight_gauge.set(self.weight)
            # one tuple, swapped whole: a request reads a consistent snapshot without taking the lock
            self._snapshot = (self.stable, self.canary, self.weight, self.header_route)
            return self.routes()

    def routes(self) -> dict:
        """Where traffic goes; the header route by name only (its values are what let a request skip the weight)."""
        stable, canary, weight, route = self._snapshot
        return {"stable": stable, "canary": canary, "weight": weight, "header_route": route[0] if route else None}

    def pick(self, session: str, headers) -> tuple[str, str, bool]:
        """(version, upstream, header-routed) for one request."""
        stable, canary, weight, route = self._snapshot
        if canary and route and (given := headers.get(route[0])):
            for value, version in route[1].items():
                if hmac.compare_digest(given.encode(), value.encode()):
                    return version, canary if version == "canary" else stable, True
        if session and canary and goes_to_canary(session, weight, self.key):
            return "canary", canary, False
        return "stable", stable, False

    def record(self, sample: dict) -> None:
        with self.lock:
            self.seq += 1
            self.samples.append({"seq": self.seq, **sample})

    def since(self, after: int) -> list[dict]:
        with self.lock:
            return [s for s in self.samples if s["seq"] > after]


def _parse_header_route(body) -> tuple[str, dict[str, str]] | None:
    """{"name": header, "canary": secret, "stable": secret} -> (name, {secret: version}); {} -> None."""
    if not isinstance(body, dict):
        raise ValueError("header_route must be an object {'name': ..., 'canary': ..., 'stable': ...}, or {} to clear it")
    if not body:
        return None
    name, values = body.get("name"), {v: body.get(v) for v in ("canary", "stable")}
    if not (isinstance(name, str) and name and all(isinstance(x, str) and len(x) >= 16 for x in values.values())):
        raise ValueError("header_route needs a header 'name' and a secret value of 16+ characters for each of "
                         "'canary' and 'stable' (or {} to clear it)")
    if values["canary"] == values["stable"]:
        raise ValueError("header_route: the canary's and stable's values must differ")
    return name.lower(), {value: version for version, value in values.items()}


def _signals(path: str, status: int, body: bytes) -> dict:
    """The bot's own signals from its answer: route, refusal, guard block, confidence."""
    if path != "/v1/chat" or status != 200:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return {"route": data.get("route"), "refused": bool(data.get("refused")), "confidence": data.get("confidence"),
            "guard_blocked": data.get("route") == "refusal"}


KEY_ENV = "CONVBOT_ROUTER_KEY"
ADMIN_TOKEN_ENV = "CONVBOT_ROUTER_ADMIN_TOKEN"


def key_from_env(environ=os.environ) -> bytes | None:
    """The session-hash key shared by several routers, or None to draw one."""
    raw = environ.get(KEY_ENV, "").strip()
    if not raw:
        return None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise ValueError(f"{KEY_ENV} must be hex (e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    if len(key) < 16:
        raise ValueError(f"{KEY_ENV} is {len(key)} bytes: give 16 or more")
    return key


def admin_headers(token: str | None) -> dict[str, str]:
    """What a client of the admin endpoints sends."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def build_router(stable: str, canary: str | None = None, weight: float = 0.0, key: bytes | None = None,
                 admin_token: str | None = None) -> FastAPI:
    state = RouterState(stable, canary, weight, key=key)
    expected = f"Bearer {admin_token}".encode() if admin_token else None

    async def require_admin(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if expected is not None and not hmac.compare_digest(given, expected):
            raise HTTPException(401, "the admin endpoints need the router's admin token (Authorization: Bearer ...)",
                                headers={"WWW-Authenticate": "Bearer"})
    client = httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=httpx.Limits(max_connections=200))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await client.aclose()

    app = FastAPI(title="convbot router", lifespan=lifespan)
    app.state.router = state

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", **state.routes()}

    @app.get("/admin/routes", dependencies=[Depends(require_admin)])
    async def get_routes():
        return state.routes()

    @app.post("/admin/routes", dependencies=[Depends(require_admin)])
    async def set_routes(request: Request):
        body = await request.json()
        if not isinstance(body, dict):
            return JSONResponse({"error": {"code": "invalid_routes", "message": "the body must be a JSON object"}},
                                status_code=400)
        try:
            return state.set_routes(body.get("stable"), body.get("canary"), body.get("weight"),
                                    bool(body.get("clear_canary")), body.get("header_route"))
        except ValueError as exc:
            return JSONResponse({"error": {"code": "invalid_routes", "message": str(exc)}}, status_code=400)

    @app.get("/admin/samples", dependencies=[Depends(require_admin)])
    async def samples(after: int = 0):
        return {"samples": state.since(after), "seq": state.seq}

    @app.get("/metrics")
    async def metrics():
        return PlainTextResponse(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)

    @app.api_route("/v1/{path:path}", methods=["GET", "POST"])
    async def proxy(path: str, request: Request):
        arrived = time.perf_counter()
        body = await request.body()
        session = ""
        try:
            session = str(json.loads(body).get("session_id") or "") if body else ""
        except (ValueError, AttributeError):
            pass
        version, base, header_routed = state.pick(session, request.headers)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")}
        url = f"{base}/v1/{path}"
        sent = time.perf_counter()
        try:
            if path.endswith("stream"):
                upstream = await client.send(client.build_request(request.method, url, content=body, headers=headers),
                                             stream=True)
                first = time.perf_counter()
                state.overhead.observe((sent - arrived))
                state.requests.labels(version, str(upstream.status_code)).inc()
                state.record({"t": time.time(), "version": version, "path": f"/v1/{path}", "status": upstream.status_code,
                              "latency_ms": (first - sent) * 1000, "overhead_ms": (sent - arrived) * 1000,
                              "header_routed": header_routed})

                async def relay():
                    try:
                        async for chunk in upstream.aiter_raw():
                            yield chunk
                    finally:
                        await upstream.aclose()

                return StreamingResponse(relay(), status_code=upstream.status_code,
                                         media_type=upstream.headers.get("content-type"))
            upstream = await client.request(request.method, url, content=body, headers=headers)
            status, content = upstream.status_code, upstream.content
        except httpx.HTTPError as exc:
            status, content = 502, json.dumps({"error": {"code": "upstream_unavailable", "message": str(exc)}}).encode()
        back = time.perf_counter()
        response = Response(content, status_code=status, media_type="application/json")
        overhead = (sent - arrived) + (time.perf_counter() - back)
        state.overhead.observe(overhead)
        state.upstream.labels(version).observe(back - sent)
        state.requests.labels(version, str(status)).inc()
        state.record({"t": time.time(), "version": version, "path": f"/v1/{path}", "status": status,
                      "latency_ms": (back - sent) * 1000, "overhead_ms": overhead * 1000, "session": session,
                      "header_routed": header_routed, **_signals(f"/v1/{path}", status, content)})
        return response

    return app


def with_scheme(url: str) -> str:
    """An upstream URL; SkyServe gives endpoints as `host:port`."""
    url = url.strip()
    return url if "://" in url else f"http://{url}"


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m serving.rollout.router")
    parser.add_argument("--port", type=int, required=True)
    # SkyServe prints endpoints without a scheme (`sky serve status --endpoint`)
    parser.add_argument("--stable", required=True, type=with_scheme)
    parser.add_argument("--canary", default=None, type=with_scheme)
    parser.add_argument("--weight", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        key = key_from_env()
    except ValueError as exc:
        parser.error(str(exc))
    token = os.environ.get(ADMIN_TOKEN_ENV) or None
    if not token:
        print(f"router: {ADMIN_TOKEN_ENV} is not set: the admin endpoints are open to every local user",
              file=sys.stderr)
    uvicorn.run(build_router(args.stable, args.canary, args.weight, key, token), host="127.0.0.1", port=args.port,
                log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
