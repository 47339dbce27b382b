"""The SkyPilot target: service YAML from the bundle, validated by SkyPilot's own parser in .venv-sky, and
`sky.serve` calls through the SDK layer (a recording fake here: no cloud is reachable)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import yaml

from serving.targets.base import DeployTarget
from serving.targets.skypilot import SkyPilotTarget, SkyServeCli, service_yaml

ROOT = Path(__file__).resolve().parents[1]


class RecordingSky:
    """Stands in for `SkyServeCli`: records every call, keeps the services that are up."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.up: dict[str, str] = {}

    def __call__(self, op: str, **args):
        self.calls.append((op, args))
        if op == "status":
            return [{"name": s, "status": "READY", "endpoint": endpoint} for s, endpoint in self.up.items()
                    if s in (args.get("services") or self.up)]
        if op == "up":
            self.up[args["service"]] = f"10.0.0.{len(self.up) + 1}:30001"
        if op == "down":
            self.up.pop(args["service"], None)
        return {"request_id": f"req-{len(self.calls)}"}


def test_service_yaml_passes_skypilots_own_parser(tmp_path):
    path = tmp_path / "svc.yaml"
    path.write_text(yaml.safe_dump(service_yaml("canary", "s3://convbot-bundles/convbot-bot-v7", "7")))
    python = os.environ.get("CONVBOT_SKY_PYTHON") or str(ROOT / ".venv-sky" / "bin" / "python")
    out = SkyServeCli(python)("validate", yaml=str(path))
    assert out["name"] == "convbot-canary" and out["service"] == "SkyServiceSpec"
    assert out["readiness_path"] == "/readyz" and out["min_replicas"] == 1
    # an unknown key is named by SkyPilot's schema check
    bad = yaml.safe_load(path.read_text())
    bad["service"]["readiness_prob"] = bad["service"].pop("readiness_probe")
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(RuntimeError, match="readiness_prob"):
        SkyServeCli(python)("validate", yaml=str(path))


def test_targets_register_by_name():
    assert {"local", "skypilot"} <= set(DeployTarget.registry)
    with pytest.raises(ValueError, match="unknown deploy target 'k8s'"):
        DeployTarget.create("k8s")


def test_deploy_update_promote_and_stop_through_the_sdk(tmp_path, monkeypatch):
    sky = RecordingSky()
    routes = []
    sent_headers = []
    monkeypatch.setattr(httpx, "post", lambda url, json, headers, timeout: sent_headers.append(headers)
                        or routes.append(json) or _Ok(json))
    # the token the user started the router with, from the environment
    monkeypatch.setenv("CONVBOT_ROUTER_ADMIN_TOKEN", "the-routers-token")
    target = SkyPilotTarget(tmp_path, router_url="http://127.0.0.1:9", sdk=sky,
                            bundle_uri_for=lambda b: f"s3://bundles/{Path(b).name}")
    assert target.deploy("stable", tmp_path / "bundle-v1", "1") == "http://10.0.0.1:30001"
    assert target.deploy("canary", tmp_path / "bundle-v2", "2") == "http://10.0.0.2:30001"
    target.set_routes(5.0)
    assert sent_headers[-1] == {"Authorization": "Bearer the-routers-token"}
    assert routes[-1] == {"weight": 5.0, "stable": "http://10.0.0.1:30001", "canary": "http://10.0.0.2:30001",
                          "header_route": {}}  # no analysis route: any route an earlier rollout left is cleared
    target.deploy("canary", tmp_path / "bundle-v3", "3")  # already up: updated, not started again
    ops = [(op, a.get("service")) for op, a in sky.calls if op != "status"]
    assert ops == [("up", "convbot-stable"), ("up", "convbot-canary"), ("update", "convbot-canary")]
    assert [a for op, a in sky.calls if op == "update"][0]["mode"] == "BLUE_GREEN"
    canary_yaml = yaml.safe_load((tmp_path / "convbot-canary.yaml").read_text())
    assert canary_yaml["file_mounts"]["/bundle"]["source"] == "s3://bundles/bundle-v3"
    target.promote_canary()
    assert sky.calls[-1] == ("down", {"service": "convbot-canary"})
    stable_update = [a for op, a in sky.calls if op == "update" and a["service"] == "convbot-stable"][0]
    assert yaml.safe_load(Path(stable_update["yaml"]).read_text())["envs"]["CONVBOT_VERSION_LABEL"] == "3"
    assert routes[-1]["clear_canary"] is True and "convbot-canary" not in sky.up


class _Ok:
    def __init__(self, body):
        self.body = body

    def raise_for_status(self):
        return None

    def json(self):
        return self.body


def test_the_rollout_asset_builds_either_target_from_its_config(tmp_path, monkeypatch):
    from assets.rollout import CanaryRolloutConfig, deploy_target
    from serving.targets.local import LocalTarget

    with pytest.raises(ValueError, match="router_url is empty"):
        deploy_target(CanaryRolloutConfig(target="skypilot"), tmp_path)
    monkeypatch.setenv("CONVBOT_ROUTER_ADMIN_TOKEN", "the-routers-token")
    sky = deploy_target(CanaryRolloutConfig(target="skypilot", router_url="http://127.0.0.1:8000"), tmp_path / "sky")
    assert isinstance(sky, SkyPilotTarget) and sky.router_url == "http://127.0.0.1:8000"
    assert sky.admin_token == "the-routers-token"
    local = deploy_target(CanaryRolloutConfig(), tmp_path / "local")  # starts nothing until a deploy
    assert isinstance(local, LocalTarget) and local.admin_token and local.admin_token != "the-routers-token"
    with pytest.raises(ValueError, match="unknown deploy target 'k8s'"):
        deploy_target(CanaryRolloutConfig(target="k8s"), tmp_path / "k8s")
