"""`make serve`: the bot over HTTP on 127.0.0.1:8080, from the bundle the registry's alias names.

    python -m pipelines.serve [--alias champion] [--port 8080]

The bundle (`convbot-bot@alias`, falling back to `challenger` when nothing is champion yet) is downloaded
from MLflow, its checksums verified, and served by uvicorn; feedback goes to the pipeline's inbox.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .settings import default_resources, state_dir

MODEL = "convbot-bot"


def fetch_bundle(alias: str) -> tuple[Path, str]:
    from serving.bot_pyfunc import BUNDLE_ARTIFACT
    from serving.bundle import download_registered
    from serving.registry import alias_version

    mlflow = default_resources()["mlflow"]
    client = mlflow.client()
    version = alias_version(client, MODEL, alias)
    if version is None and alias == "champion":
        version, alias = alias_version(client, MODEL, "challenger"), "challenger"
    if version is None:
        raise SystemExit(f"no {MODEL} version holds '{alias}': run `make run` first")
    folder = download_registered(MODEL, version, state_dir() / "serving" / f"{MODEL}-v{version}", mlflow.tracking_uri,
                                 mlflow.registry_uri or mlflow.tracking_uri, BUNDLE_ARTIFACT)
    return folder, f"{version} (@{alias})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.serve")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--bundle", default="", help="serve this bundle folder instead of the registry's")
    args = parser.parse_args(argv)
    bundle, label = (Path(args.bundle), "local") if args.bundle else fetch_bundle(args.alias)
    os.environ.update({"CONVBOT_BUNDLE": str(bundle), "CONVBOT_VERSION_LABEL": label.split()[0],
                       "CONVBOT_FEEDBACK_INBOX": str(state_dir() / "feedback" / "inbox")})
    print(f"serving {MODEL} {label} from {bundle} on http://127.0.0.1:{args.port}", flush=True)
    import uvicorn

    uvicorn.run("serving.http.app:create_app", factory=True, host="127.0.0.1", port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
