"""Helpers that turn library results into Dagster metadata."""

from __future__ import annotations

from pathlib import Path

from dagster import MetadataValue

from evals.plots import png_markdown


def image(path: str | Path, alt: str) -> MetadataValue:
    return MetadataValue.md(png_markdown(path, alt))


def table_md(rows: dict[str, dict], columns: list[str]) -> MetadataValue:
    head = "| intent | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns) + "\n"
    body = "".join(
        f"| {k} | " + " | ".join(f"{v[c]:.3f}" if isinstance(v[c], float) else str(v[c]) for c in columns) + " |\n"
        for k, v in rows.items()
    )
    return MetadataValue.md(head + body)


def refusal_table(per_category: dict) -> MetadataValue:
    """`safety_report`'s per-category block as a table: the share refused, which should be near 1 for an unsafe
    category and near 0 for a safe one."""
    rows = ""
    for category, r in sorted(per_category.items()):
        share = r.get("safety") or r.get("over_refusal")
        rows += f"| {category} | {r['label']} | {share['value']:.2f} | {share['n']} |\n"
    return MetadataValue.md("| category | label | refused | n |\n|---|---|---|---|\n" + rows)
