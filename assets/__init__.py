"""Dagster asset and asset-check definitions: thin adapters over training/, evals/, serving/."""
