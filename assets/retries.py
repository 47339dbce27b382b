"""Retries for steps whose outside service can fail for a moment (DVC's lock held by another run, a busy MLflow
server): a few tries with exponential backoff and jitter, then the failure is real."""

from dagster import Backoff, Jitter, RetryPolicy

TRANSIENT = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
