"""The Dagster code location: assets, checks, jobs, schedules and resources."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
    load_assets_from_modules,
)

from assets import base_models, bot, embedder, intent, llm, preferences, rollout

from . import alerts
from .settings import default_resources

all_assets = load_assets_from_modules([base_models, intent, llm, preferences, embedder, bot, rollout])
all_checks = [intent.no_split_leakage, intent.intent_gate, llm.llm_gate,
              preferences.dpo_preference_gate, embedder.embedder_gate, bot.guard_gate, bot.release_gate]

intent_pipeline = define_asset_job(
    "intent_pipeline",
    selection=AssetSelection.groups("base_models", "intent"),
    description="The whole intent chain: catalog, synthetic data, DVC dataset, model, evaluation, gate, champion.",
)

llm_pipeline = define_asset_job(
    "llm_pipeline",
    selection=AssetSelection.groups("llm"),
    description="The LLM core: dialog corpus, distilled student, int8 student, side-by-side evaluation.",
)

preference_refresh = define_asset_job(
    "preference_refresh",
    selection=AssetSelection.groups("preferences"),
    description="User corrections: redacted feedback, preference pairs, DPO adapter, evaluation and its gate.",
)

embedder_pipeline = define_asset_job(
    "embedder_pipeline",
    selection=AssetSelection.groups("embedder"),
    description="The retriever's encoder fine-tuned under DP-SGD within the privacy budget, and its retrieval metrics.",
)

bot_release = define_asset_job(
    "bot_release",
    selection=AssetSelection.groups("bot"),
    description="Guard model, serving bundle of the gated models, safety evaluation of the whole bot, release gate.",
)

# `make run`: every asset in one process, so that each step does not pay for importing torch,
# transformers and MLflow again (a re-run with nothing to do is mostly that start-up)
convbot_pipeline = define_asset_job(
    "convbot_pipeline",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Everything through to the canary: intent chain, LLM core, preferences and DPO, DP embedder, guard, "
                "serving bundle, safety evaluation and release gate, canary rollout; every gate blocking what it guards.",
)

weekly_retrain = ScheduleDefinition(
    name="weekly_retrain",
    job=convbot_pipeline,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="The whole graph through to the canary every Monday 03:00 UTC (stopped until someone turns it on in "
                "the UI). A retrain that fails a gate leaves production where it was; the gate's check says why.",
)

defs = Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[convbot_pipeline, intent_pipeline, llm_pipeline, preference_refresh, embedder_pipeline, bot_release],
    schedules=[weekly_retrain],
    sensors=[preferences.feedback_sensor, alerts.run_failure_alert],
    resources=default_resources(),
)
