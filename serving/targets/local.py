"""The `local` target: each role a real uvicorn process on loopback, the weighted router a third one.

What `make run` and the tests use. Processes are started with their own logs under `workdir`, checked
for readiness on /readyz, and stopped terminate -> wait -> kill.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from serving.rollout.router import ADMIN_TOKEN_ENV

from .base import ROLES, DeployTarget


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Process:
    def __init__(self, cmd: list[str], env: dict[str, str], log: Path, ready_url: str, timeout: float,
                 niceness: int = 0):
        self.log = log
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        if niceness:  # set from outside: preexec_fn is unsafe in a process with threads (Dagster's are)
            os.setpriority(os.PRIO_PROCESS, self.proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + niceness)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{' '.join(cmd[:5])} exited with {self.proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(ready_url, timeout=2) as r:
                    if r.status == 200:
                        return
            except urllib.error.HTTPError as exc:  # 503 while loading; "failed" when the bundle was refused
                body = exc.read().decode(errors="replace")
                if '"failed"' in body:
                    self.stop()
                    raise RuntimeError(f"{ready_url} failed to start: {body[:1000]}") from None
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{ready_url} not ready within {timeout} s: {log.read_text()[-2000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# The replicas' model work yields the CPU to the router in front of them when both want it, as a proxy gets its own
# CPU share beside the pods it fronts: on a machine that runs everything, a router waiting behind two busy replicas
# would add their queueing to every request it passes on.
REPLICA_NICENESS = 5


class LocalTarget(DeployTarget):
    name = "local"

    def __init__(self, workdir: str | os.PathLike, feedback_inbox: str = "", sessions: str = "",
                 ready_timeout_s: float = 300.0):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.feedback_inbox, self.sessions, self.ready_timeout_s = feedback_inbox, sessions, ready_timeout_s
        self.roles: dict[str, tuple[_Process, str]] = {}
        self.router: _Process | None = None
        self.admin_token = secrets.token_urlsafe(32)  # only this target may change the routes

    def _start_router(self, stable_url: str) -> None:
        port = free_port()
        self.router_url = f"http://127.0.0.1:{port}"
        self.router = _Process([sys.executable, "-m", "serving.rollout.router", "--port", str(port), "--stable", stable_url],
                               {ADMIN_TOKEN_ENV: self.admin_token}, self.workdir / "router.log",
                               f"{self.router_url}/healthz", 60)

    def deploy(self, role: str, bundle: Path, version: str, env: dict[str, str] | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self.stop(role)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        bot_env = {"CONVBOT_BUNDLE": str(bundle), "CONVBOT_VERSION_LABEL": version,
                   "CONVBOT_FEEDBACK_INBOX": self.feedback_inbox,
                   "CONVBOT_SESSIONS": self.sessions or str(self.workdir / f"sessions-{role}.db"),
                   "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "serving.http.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]
        self.roles[role] = (_Process(cmd, bot_env, self.workdir / f"{role}-{version}.log", f"{url}/readyz",
                                     self.ready_timeout_s, niceness=REPLICA_NICENESS), url)
        if self.router is None:
            self._start_router(self.roles.get("stable", self.roles[role])[1])
        return url

    def endpoint(self, role: str) -> str | None:
        return self.roles[role][1] if role in self.roles else None

    def stop(self, role: str) -> None:
        if role in self.roles:
            self.roles.pop(role)[0].stop()

    def promote_canary(self) -> None:
        """The canary process becomes stable (it already serves the new bundle): no restart, no cold start."""
        if "canary" not in self.roles:
            raise RuntimeError("no canary to promote")
        old = self.roles.pop("stable", None)
        self.roles["stable"] = self.roles.pop("canary")
        self.set_routes(0, clear_canary=True)
        if old is not None:
            old[0].stop()

    def close(self) -> None:
        for role in list(self.roles):
            self.stop(role)
        if self.router is not None:
            self.router.stop()
            self.router = None
