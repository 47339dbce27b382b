"""The Dagster UI in headless Chromium (the Debian package): the asset graph renders, and a canary
rollout's materialization metadata (its decision records) is visible on the asset's page."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetMaterialization, DagsterInstance, MetadataValue

from tests.servers import Server, free_port

RECORDS = ("| stage | weight | verdict | stable / canary samples | time (s) |\n|---|---|---|---|---|\n"
           "| golden | 0% | Successful | - / - | 4 |\n| stage 0 | 5% | Successful | 812 / 41 | 31 |\n"
           "| stage 1 | 25% | Successful | 640 / 213 | 58 |\n| stage 2 | 100% | Successful | 0 / 180 | 79 |\n")


def _dom(url: str, tmp: Path) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("chromium is not installed: `make test` installs the Debian package")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'chromium'}", "--virtual-time-budget=25000", "--dump-dom", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180).stdout


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster-home")
    instance = DagsterInstance.from_config(str(home))
    instance.report_runless_asset_event(AssetMaterialization(
        "canary_rollout", metadata={"phase": "Successful", "records": MetadataValue.md(RECORDS),
                                    "reason": "promoted to champion"}))
    port = free_port()
    server = Server([sys.executable, "-m", "dagster_webserver", "-m", "pipelines.definitions", "-h", "127.0.0.1",
                     "-p", str(port)], f"http://127.0.0.1:{port}/server_info", {"DAGSTER_HOME": str(home)},
                    log=home / "webserver.log", timeout=240)
    yield f"http://127.0.0.1:{port}", home
    server.stop()


def test_the_asset_graph_renders(webserver):
    base, home = webserver
    dom = _dom(f"{base}/locations/__repository__@pipelines.definitions/asset-groups/release", home)
    assert "canary_rollout" in dom and "safety_eval" in dom, dom[-2000:]  # the group and what feeds it


def test_a_rollout_records_metadata_is_visible(webserver):
    base, home = webserver
    dom = _dom(f"{base}/assets/canary_rollout", home)
    assert "promoted to champion" in dom or "Successful" in dom, dom[-2000:]
