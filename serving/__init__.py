"""Bot runtime pieces, registry promotion, bundles and deploy targets (no Dagster imports here)."""
