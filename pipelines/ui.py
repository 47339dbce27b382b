"""`make ui`: the Dagster UI (with its daemon, for schedules and sensors) and the MLflow UI, on loopback.

One Ctrl-C stops everything it started: each service runs in its own process group, and on SIGINT or
SIGTERM the whole group gets SIGTERM, then SIGKILL if it is still there after a grace period (so
`dagster dev`'s webserver and daemon, and MLflow's server workers, do not outlive the command).

    python -m pipelines.ui [--dagster-port 3000] [--mlflow-port 5000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .settings import PROJECT_ROOT, state_dir

GRACE_S = 15.0


def _commands(dagster_port: int, mlflow_port: int) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    tracking = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{state_dir() / 'mlflow.db'}")
    return {
        "mlflow": [str(bin_dir / "mlflow"), "ui", "--host", "127.0.0.1", "--port", str(mlflow_port),
                   "--backend-store-uri", tracking],
        "dagster": [str(bin_dir / "dagster"), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
                    "--host", "127.0.0.1", "--port", str(dagster_port)],
    }


def stop_group(proc: subprocess.Popen, grace_s: float = GRACE_S) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever of it is left after `grace_s`."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)  # anything left in the group?
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.ui")
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--mlflow-port", type=int, default=5000)
    args = parser.parse_args(argv)

    (state_dir() / "dagster").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(state_dir() / "dagster"))}
    procs = {name: subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, start_new_session=True)
             for name, cmd in _commands(args.dagster_port, args.mlflow_port).items()}
    print(f"Dagster UI: http://127.0.0.1:{args.dagster_port}   MLflow UI: http://127.0.0.1:{args.mlflow_port}   "
          "(Ctrl-C stops both)", flush=True)

    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    while not stopping:
        exited = {n: p.returncode for n, p in procs.items() if p.poll() is not None}
        if exited:
            print(f"stopping: {', '.join(f'{n} exited with {c}' for n, c in exited.items())}", file=sys.stderr)
            code = 1
            break
        time.sleep(0.5)
    for proc in procs.values():
        stop_group(proc)
    return code


if __name__ == "__main__":
    sys.exit(main())
