"""The convbot Dagster code location."""
