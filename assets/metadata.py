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
