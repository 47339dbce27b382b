"""Real server processes for tests: start on a free loopback port, wait until ready, fail fast if the
process exits, tear down terminate -> wait -> kill (the pattern of vLLM's RemoteOpenAIServer)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, cmd: list[str], ready_url: str | None, env: dict | None = None, timeout: float = 180,
                 log: Path | None = None, ready_check=None):
        self.log_path = log
        out = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                tail = log.read_text()[-3000:] if log and log.exists() else ""
                raise RuntimeError(f"{cmd[:4]} exited with {self.proc.returncode} before it was ready:\n{tail}")
            try:
                if ready_check is not None:
                    if ready_check():
                        break
                else:
                    with urllib.request.urlopen(ready_url, timeout=2) as r:
                        if r.status == 200:
                            break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{cmd[:4]} was not ready within {timeout} s")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_bot(bundle: Path, port: int, tmp: Path, sessions: str = "", inbox: Path | None = None,
              version_label: str = "") -> Server:
    env = {"CONVBOT_BUNDLE": str(bundle), "CONVBOT_SESSIONS": sessions or str(tmp / f"sessions-{port}.db"),
           "CONVBOT_FEEDBACK_INBOX": str(inbox or ""), "CONVBOT_VERSION_LABEL": version_label,
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "serving.http.app:create_app", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning"]
    return Server(cmd, f"http://127.0.0.1:{port}/readyz", env, log=tmp / f"bot-{port}.log")


def start_redis(port: int, tmp: Path) -> Server:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed: `make test` installs the Debian package redis-server")

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    return Server([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(tmp)], None, ready_check=ping, log=tmp / f"redis-{port}.log", timeout=30)
