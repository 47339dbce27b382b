"""Command-line helpers: registry promotions and their history, reference data.

    python -m pipelines.cli history [--model NAME]
    python -m pipelines.cli promote --model NAME --version N --reason "..." [--alias champion]
    python -m pipelines.cli restore-champion --model NAME [--reason "..."]
    python -m pipelines.cli reference-data
    python -m pipelines.cli report [--job convbot_pipeline]
"""

from __future__ import annotations

import argparse
import getpass
import sys

from serving.registry import CHAMPION, format_history, move_alias, restore_previous_champion
from training.errors import ConvbotError

from .settings import default_resources


def _actor(command: str) -> str:
    try:
        return f"cli {command} ({getpass.getuser()})"
    except OSError:
        return f"cli {command}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convbot")
    sub = parser.add_subparsers(dest="command", required=True)
    restore = sub.add_parser("restore-champion", help="move 'champion' back to the previous champion version")
    restore.add_argument("--model", default="intent-classifier")
    restore.add_argument("--reason", default="rolled back by a person")
    promote = sub.add_parser("promote", help="give a version an alias by name (its gate verdict must have passed; "
                                             "the only way to bring back a rolled-back version)")
    promote.add_argument("--model", required=True)
    promote.add_argument("--version", required=True)
    promote.add_argument("--alias", default=CHAMPION)
    promote.add_argument("--reason", required=True)
    history = sub.add_parser("history", help="every alias move (model, alias, from, to, when, who, why) and every "
                                             "canary rollout decision")
    history.add_argument("--model", default=None)
    sub.add_parser("reference-data", help="download missing reference datasets (CLINC150, XSTest), checksum-verified")
    report = sub.add_parser("report", help="the latest run of a job: gates, what they stopped, failed steps "
                                           "(exit 1 only when a step itself failed)")
    report.add_argument("--job", default="convbot_pipeline")
    args = parser.parse_args(argv)

    if args.command == "report":
        from dagster import DagsterInstance

        from .run_report import latest_report

        try:
            result = latest_report(DagsterInstance.get(), args.job)
        except LookupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print("\n".join(result.lines()))
        return 0 if result.ok else 1

    if args.command == "reference-data":
        from training.reference_data import fetch_missing

        from .settings import reference_data_dir

        try:
            fetch_missing(reference_data_dir())
        except (ConvbotError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0

    client = default_resources()["mlflow"].client()
    try:
        if args.command == "restore-champion":
            old, new = restore_previous_champion(client, args.model, actor=_actor("restore-champion"),
                                                 reason=args.reason)
            print(f"{args.model}: '{CHAMPION}' moved from version {old} back to version {new}")
        elif args.command == "promote":
            previous = move_alias(client, args.model, args.alias, args.version, actor=_actor("promote"),
                                  reason=args.reason, explicit=True)
            print(f"{args.model}: '{args.alias}' {previous or '-'} -> {args.version}")
        else:
            from serving.rollout.records import RolloutRecords, format_records

            print("alias moves:")
            print("\n".join(format_history(client, args.model)) or "  none recorded yet")
            rollouts = [r for r in RolloutRecords(client).all() if args.model in (None, r.fields.get("bundle"))]
            print("rollout records:")
            print("\n".join(format_records(rollouts)) or "  none recorded yet")
    except ConvbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
