"""Metrics, evaluation harnesses and release gates (no Dagster imports here)."""
