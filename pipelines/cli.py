"""Command-line helpers around the registry: `python -m pipelines.cli restore-champion --model NAME`."""

from __future__ import annotations

import argparse
import sys

from serving.registry import CHAMPION, champion_history, restore_previous_champion

from .settings import default_resources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convbot")
    sub = parser.add_subparsers(dest="command", required=True)
    restore = sub.add_parser("restore-champion", help="move 'champion' back to the previous champion version")
    restore.add_argument("--model", default="intent-classifier")
    history = sub.add_parser("champion-history", help="list the versions that have been champion")
    history.add_argument("--model", default="intent-classifier")
    args = parser.parse_args(argv)

    client = default_resources()["mlflow"].client()
    try:
        if args.command == "restore-champion":
            old, new = restore_previous_champion(client, args.model)
            print(f"{args.model}: '{CHAMPION}' moved from version {old} back to version {new}")
        else:
            print(" -> ".join(champion_history(client, args.model)) or "no champion yet")
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
