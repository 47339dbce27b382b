"""Plain-Python training libraries for convbot (no Dagster imports here)."""
