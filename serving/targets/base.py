"""One interface for every place the bot can run. Targets register by name (`__init_subclass__`, as SkyPilot's
load-balancing policies do), so config picks one with a string: `DeployTarget.create("local", ...)`.

A target runs two roles, `stable` and `canary`, each serving one bundle, and a weighted router in front of
them (`serving.rollout.router`): `set_routes` changes the canary's share of sessions at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import httpx

from serving.rollout.router import admin_headers

ROLES = ("stable", "canary")


class DeployTarget:
    registry: ClassVar[dict[str, type["DeployTarget"]]] = {}
    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            DeployTarget.registry[cls.name] = cls

    @classmethod
    def create(cls, name: str, **settings) -> "DeployTarget":
        if name not in cls.registry:
            raise ValueError(f"unknown deploy target '{name}' (known: {sorted(cls.registry)})")
        return cls.registry[name](**settings)

    router_url: str = ""
    admin_token: str | None = None  # the router's admin token (`CONVBOT_ROUTER_ADMIN_TOKEN`)

    # --- what every target implements ---
    def deploy(self, role: str, bundle: Path, version: str, env: dict[str, str] | None = None) -> str:
        """Serve `bundle` as `role`; returns the role's endpoint once it is ready."""
        raise NotImplementedError

    def stop(self, role: str) -> None:
        raise NotImplementedError

    def endpoint(self, role: str) -> str | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # --- shared: the router ---
    def set_routes(self, canary_weight: float, clear_canary: bool = False, header_route=None) -> dict:
        """The canary's share of sessions, and the rollout's header route (`serving.rollout.controller.HeaderRoute`,
        pinning requests that carry it to a version; None clears whatever route an earlier rollout left)."""
        body = {"weight": canary_weight, "stable": self.endpoint("stable"), "canary": self.endpoint("canary"),
                "header_route": header_route.for_router() if header_route is not None else {}}
        if clear_canary:
            body = {"clear_canary": True, "stable": self.endpoint("stable")}
        r = httpx.post(f"{self.router_url}/admin/routes", json=body, headers=admin_headers(self.admin_token),
                       timeout=10)
        r.raise_for_status()
        return r.json()

    def samples(self, after: int = 0) -> list[dict]:
        r = httpx.get(f"{self.router_url}/admin/samples", params={"after": after},
                      headers=admin_headers(self.admin_token), timeout=30)
        r.raise_for_status()
        return r.json()["samples"]

    def promote_canary(self) -> None:
        """The canary's bundle becomes stable: stable is replaced, the canary retired, all traffic on stable."""
        raise NotImplementedError
