"""`make ui`: both UIs come up on loopback, and one Ctrl-C stops every process they started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the launcher exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _cmdline(process: psutil.Process) -> str:
    """A short-lived helper (the servers start and reap some) may be gone between listing and reading it."""
    try:
        return " ".join(process.cmdline())
    except psutil.NoSuchProcess:
        return ""


def test_make_ui_serves_both_and_one_ctrl_c_stops_everything(tmp_path):
    dagster_port, mlflow_port = _free_port(), _free_port()
    env = {**os.environ, "CONVBOT_STATE": str(tmp_path / "state"), "DAGSTER_HOME": str(tmp_path / "state" / "dagster"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.ui", "--dagster-port", str(dagster_port),
                             "--mlflow-port", str(mlflow_port)], cwd=ROOT, env=env)
    try:
        _wait_http(f"http://127.0.0.1:{mlflow_port}/health", proc)
        _wait_http(f"http://127.0.0.1:{dagster_port}/server_info", proc)
        started = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(_cmdline(p) for p in started)
        assert "dagster" in names and "mlflow" in names and len(started) >= 3, names
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends to `make ui`
        assert proc.wait(timeout=60) == 0
        time.sleep(1)
        alive = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, [_cmdline(p) for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
