"""Preference assets: user corrections -> redacted feedback -> preference pairs -> DPO adapter -> evaluation."""

import json
import time
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    DataVersion,
    AssetExecutionContext,
    Config,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    asset_check,
    sensor,
)
from pydantic import Field

from evals.dpo_metrics import evaluate_dpo
from evals.plots import training_curves_png
from pipelines.resources import DvcResource, MlflowResource, ModelStoreResource
from pipelines.settings import state_dir
from serving.llm_pyfunc import ADAPTER_ARTIFACT, LoraAdapterPyfunc
from serving.registry import PromotionRefused, verify_promotable
from training.checkpoints import is_complete_model_dir
from training.dpo import DpoRunConfig, load_policy, merge_adapter, train_dpo_adapter
from training.feedback import feedback_jsonl, load_redacted, read_feedback, synthetic_feedback
from training.fileio import atomic_dir, atomic_write_json, atomic_write_text, sha256_dir, sha256_file, stable_hash
from training.preferences import PreferenceConfig, build_pairs, read_pairs, write_pairs

from .gates import GateConfig, run_gate
from .metadata import image
from .retries import TRANSIENT

GROUP = "preferences"
DPO_EXPERIMENT = "dpo"
CACHE_TAG = "convbot.cache_key"
EVAL_TAG = "convbot.eval_key"
_PREF = PreferenceConfig()
_DPO = DpoRunConfig()


def feedback_inbox() -> Path:
    """Where user corrections arrive as *.jsonl files (watched by `feedback_sensor`)."""
    return state_dir() / "feedback" / "inbox"


def inbox_files(inbox: Path) -> list[Path]:
    return sorted(inbox.glob("*.jsonl")) if inbox.is_dir() else []


class FeedbackLogConfig(Config):
    synthetic_records: int = Field(default=400, description="synthetic corrections written when there is no feedback "
                                                            "at all yet; 0 = none")
    seed: int = 0


FEEDBACK_FILE, FEEDBACK_CARD = "feedback.jsonl", "feedback_card.json"


@asset(group_name=GROUP, compute_kind="python", code_version="3")
def feedback_log(context: AssetExecutionContext, config: FeedbackLogConfig, dvc: DvcResource) -> MaterializeResult:
    """User corrections from the inbox, schema-checked and PII-redacted, added to data/feedback; raw files then deleted."""
    inbox = feedback_inbox()
    target = dvc.data_path / "feedback"
    records = load_redacted(target / FEEDBACK_FILE)
    card = json.loads((target / FEEDBACK_CARD).read_text()) if (target / FEEDBACK_CARD).exists() else {"sources": {}}
    files = inbox_files(inbox)
    if not files and not records and config.synthetic_records > 0:
        synthetic = inbox / f"synthetic-{config.seed}.jsonl"
        atomic_write_text(synthetic, "\n".join(synthetic_feedback(config.synthetic_records, config.seed)) + "\n")
        context.log.info(f"no feedback yet: wrote {config.synthetic_records} synthetic corrections to {inbox}")
        files = [synthetic]
    if not files and not records:
        raise FileNotFoundError(f"no feedback: put JSONL files in {inbox} (or set synthetic_records > 0)")

    known = {s["sha256"] for s in card["sources"].values()}
    new = [(f, sha256_file(f)) for f in files]
    quarantine_file = state_dir() / "quarantine" / "feedback_log.json"
    quarantined = json.loads(quarantine_file.read_text()) if quarantine_file.exists() else []
    added = 0
    for path, sha in new:
        if sha in known:  # stored by a run killed before it deleted the raw file
            continue
        batch = read_feedback([path])
        records += batch.records
        added += len(batch.records)
        # only line, field and reason: the raw text of a rejected row may hold unredacted PII
        quarantined += batch.quarantined
        card["sources"][f"{path.name}@{sha[:12]}"] = {
            "sha256": sha, "records": len(batch.records), "quarantined": len(batch.quarantined),
            "redactions": batch.redactions, "ingested_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    card["records"] = len(records)
    with atomic_dir(target) as tmp:  # records and card change together
        (tmp / FEEDBACK_FILE).write_text(feedback_jsonl(records), encoding="utf-8")
        (tmp / FEEDBACK_CARD).write_text(json.dumps(card, indent=2, sort_keys=True))
    atomic_write_json(quarantine_file, quarantined)
    for path, _ in new:  # stored redacted: the raw text (and its PII) is not kept
        path.unlink(missing_ok=True)
    redactions: dict[str, int] = {}
    for source in card["sources"].values():
        for label, n in source["redactions"].items():
            redactions[label] = redactions.get(label, 0) + n
    reasons: dict[str, int] = {}
    for q in quarantined:
        reasons[q["reason"]] = reasons.get(q["reason"], 0) + 1
    return MaterializeResult(
        # committed to DVC with the pairs (preference_pairs); until then its content hash is its version
        data_version=DataVersion(sha256_dir(target)[:32]),
        value={"path": str(target), "content_sha256": sha256_dir(target)},
        metadata={"records": len(records), "records_added": added, "quarantined_rows": len(quarantined),
                  "quarantine_reasons": MetadataValue.json(reasons), "redactions": MetadataValue.json(redactions),
                  "files_ingested": len(new), "inbox": MetadataValue.path(str(inbox))},
    )


class PreferencePairsConfig(Config):
    heldout_fraction: float = _PREF.heldout_fraction
    seed: int = _PREF.seed


@asset(group_name=GROUP, compute_kind="dvc", code_version="2", retry_policy=TRANSIENT)
def preference_pairs(context: AssetExecutionContext, config: PreferencePairsConfig, feedback_log: dict,
                     dvc: DvcResource) -> MaterializeResult:
    """(prompt, chosen = correction, rejected = original answer), deduplicated, split by prompt, DVC-versioned."""
    records = load_redacted(Path(feedback_log["path"]) / FEEDBACK_FILE)
    cfg = PreferenceConfig(config.heldout_fraction, config.seed)
    splits, duplicates = build_pairs(records, cfg)
    target = dvc.data_path / "preferences"
    write_pairs(splits, target, {"feedback_sha256": feedback_log["content_sha256"], "config": cfg.__dict__,
                                 "duplicates_dropped": duplicates})
    version = dvc.commit_data()
    return MaterializeResult(
        data_version=DataVersion(dvc.folder_version("preferences")),
        value={"path": str(target), "data_version": version, "content_sha256": sha256_dir(target)},
        metadata={"data_version": version, "pairs_train": len(splits["train"]), "pairs_heldout": len(splits["heldout"]),
                  "duplicates_dropped": duplicates, "path": MetadataValue.path(str(target))},
    )


class DpoAdapterConfig(Config):
    base: str = Field(default="auto", description="'auto' (the student when it passed llm_gate, else the teacher), "
                                                   "'student' (only the student that passed llm_gate) or 'teacher'")
    recipe: str = Field(default=_DPO.recipe, description="YAML of trl.DPOConfig")
    overrides: dict[str, Any] = Field(default={}, description="DPOConfig fields to override, e.g. max_steps")
    lora_r: int = _DPO.lora_r
    lora_alpha: int = _DPO.lora_alpha
    registered_model_name: str = "convbot-dpo-adapter"


def _dpo_base(config: DpoAdapterConfig, base_llm: dict, llm_eval: dict, mlflow: MlflowResource,
              model_store: ModelStoreResource) -> tuple[str, str, str]:
    """(local folder, model URI or spec, why) of the model the adapter is trained on, and so of the model the bot
    generates with: the student that `llm_eval` judged (an input of this asset, so DPO waits for llm_gate) when
    llm_gate passed it, or the teacher. With base 'auto' a student that failed llm_gate (say, perplexity many times
    the teacher's) gives way to the teacher; with base 'student' it stops the run."""
    if config.base not in ("auto", "student", "teacher"):
        raise ValueError(f"dpo_adapter config, field 'base': expected 'auto', 'student' or 'teacher', got '{config.base}'")
    if config.base == "teacher":
        return base_llm["path"], base_llm["spec"], "the teacher, as configured (base: teacher)"
    student = llm_eval["student"]
    try:
        verify_promotable(mlflow.client(), student["model_name"], str(student["version"]))
    except PromotionRefused as exc:
        if config.base == "student":
            raise
        return base_llm["path"], base_llm["spec"], f"the teacher, because the student may not serve: {exc}"
    uri = f"models:/{student['model_name']}/{student['version']}"
    why = f"the student {student['model_name']} v{student['version']}, which passed llm_gate"
    if is_complete_model_dir(student["model_dir"]):
        return student["model_dir"], uri, why
    # the local work folder was cleaned: the registry holds the same weights
    folder = Path(model_store.root, "registry", student["model_name"], str(student["version"]))
    if not is_complete_model_dir(folder):
        parts = mlflow.load_transformers(uri)
        with atomic_dir(folder) as tmp:
            parts["model"].save_pretrained(tmp)
            parts["tokenizer"].save_pretrained(tmp)
    return str(folder), uri, why


@asset(group_name=GROUP, compute_kind="trl", code_version="2")
def dpo_adapter(context: AssetExecutionContext, config: DpoAdapterConfig, preference_pairs: dict, base_llm: dict,
                llm_eval: dict, mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """A LoRA adapter trained with DPO on the corrections, on the student that passed llm_gate (else the teacher)."""
    import mlflow as mlf

    from pipelines.settings import PROJECT_ROOT, project_path

    base_dir, base_desc, base_reason = _dpo_base(config, base_llm, llm_eval, mlflow, model_store)
    context.log.info(f"DPO trains on {base_reason}")
    recipe = project_path(config.recipe)
    cfg = DpoRunConfig(str(recipe), dict(config.overrides), config.lora_r, config.lora_alpha)
    key = stable_hash([preference_pairs["content_sha256"], sha256_dir(base_dir, "*.safetensors"), recipe.read_text(),
                       {**cfg.__dict__, "recipe": None}, config.registered_model_name])
    work = model_store.work_dir("dpo_adapter", key)
    run_id = mlflow.find_finished_run(DPO_EXPERIMENT, {CACHE_TAG: key})
    if run_id is None or not (work / "adapter").exists():
        tags = {CACHE_TAG: key, "convbot.data_version": preference_pairs["data_version"], "convbot.base": base_desc,
                "convbot.base_reason": base_reason[:5000]}
        with mlflow.start_run(DPO_EXPERIMENT, f"dpo-{preference_pairs['data_version'][:8]}", tags) as run_id:
            mlf.log_params({"base": base_desc, "lora_r": cfg.lora_r, "lora_alpha": cfg.lora_alpha,
                            "lora_dropout": cfg.lora_dropout, "target_modules": ",".join(cfg.target_modules),
                            "recipe": config.recipe, **{f"override.{k}": v for k, v in config.overrides.items()}})
            outcome = train_dpo_adapter(base_dir, read_pairs(preference_pairs["path"], "train"),
                                        read_pairs(preference_pairs["path"], "heldout"), work, cfg,
                                        metrics_sink=lambda m, step: mlf.log_metrics(
                                            {k.replace("/", "_"): v for k, v in m.items()}, step=step))
            mlf.log_params({k: outcome.training_args[k] for k in ("beta", "learning_rate", "num_train_epochs", "max_steps")})
            curves = training_curves_png(outcome.log_history, work / "dpo_curves.png", "DPO",
                                         extra=("rewards/margins", "rewards/accuracies"))
            mlf.log_artifact(str(curves), "plots")
            # the base travels as a reference (registry URI or model spec), never as this machine's path
            info = mlf.pyfunc.log_model(
                name="adapter", python_model=LoraAdapterPyfunc(), artifacts={ADAPTER_ARTIFACT: str(outcome.adapter_dir)},
                model_config={"base": base_desc},
                code_paths=[str(PROJECT_ROOT / "serving")],
                registered_model_name=config.registered_model_name,
            )
            mlflow.note_version(info)
    else:
        context.log.info(f"reusing MLflow run {run_id}: same pairs, base and recipe")
    run = mlflow.client().get_run(run_id)
    curves = work / "dpo_curves.png"
    return MaterializeResult(
        value={"run_id": run_id, "adapter_dir": str(work / "adapter"), "base_dir": base_dir, "base": base_desc,
               "base_reason": base_reason,
               "version": run.data.tags["convbot.model_version"], "model_name": config.registered_model_name,
               "beta": float(run.data.params["beta"]), "work": str(work), "data_version": preference_pairs["data_version"]},
        metadata={"mlflow_run": MetadataValue.url(mlflow.run_url(run_id)), "base": base_desc,
                  "base_reason": base_reason, "registered_version": run.data.tags["convbot.model_version"],
                  **{k: float(v) for k, v in run.data.metrics.items() if k.startswith("eval_rewards")},
                  **({"dpo_curves": image(curves, "DPO curves")} if curves.exists() else {})},
    )


class DpoEvalConfig(Config):
    max_generate: int = Field(default=24, description="held-out prompts answered by base and policy")
    max_new_tokens: int = 48
    merge: bool = Field(default=True, description="also write the base with the adapter merged in, for serving")


@asset(group_name=GROUP, compute_kind="mlflow", code_version="2")
def dpo_eval(context: AssetExecutionContext, config: DpoEvalConfig, dpo_adapter: dict, preference_pairs: dict,
             mlflow: MlflowResource) -> MaterializeResult:
    """Held-out preference accuracy and how far generated answers move toward the corrections."""
    import mlflow as mlf

    key = stable_hash([dpo_adapter["run_id"], preference_pairs["content_sha256"], config.model_dump()])
    cached = mlflow.client().get_run(dpo_adapter["run_id"]).data.tags.get(EVAL_TAG) == key
    merged = Path(dpo_adapter["work"]) / "merged" if config.merge else None
    if cached and (merged is None or (merged / "config.json").exists()):
        context.log.info("reusing the evaluation logged in the DPO run (same adapter, pairs and settings)")
        report = mlflow.load_logged_dict(dpo_adapter["run_id"], "dpo_eval.json")
    else:
        heldout = read_pairs(preference_pairs["path"], "heldout")
        model, tokenizer = load_policy(dpo_adapter["base_dir"], dpo_adapter["adapter_dir"])
        report = evaluate_dpo(model, tokenizer, heldout, dpo_adapter["beta"], config.max_new_tokens, config.max_generate)
        if merged is not None:
            merge_adapter(dpo_adapter["base_dir"], dpo_adapter["adapter_dir"], merged)
        with mlflow.resume_run(dpo_adapter["run_id"]):
            mlf.log_metrics({f"heldout_{k}": float(v) for k, v in report.items() if isinstance(v, (int, float))})
            mlf.log_dict(report, "dpo_eval.json")
            mlf.set_tag(EVAL_TAG, key)
    metrics = {k: float(v) for k, v in report.items() if isinstance(v, (int, float))}
    examples = "\n\n".join(f"**user:** {e['prompt']}  \n**correction:** {e['correction']}  \n"
                           f"**base:** {e['base']}  \n**policy:** {e['policy']}" for e in report["examples"])
    return MaterializeResult(
        value={"metrics": metrics, "run_id": dpo_adapter["run_id"], "merged_dir": str(merged) if merged else None,
               "model_name": dpo_adapter["model_name"], "version": dpo_adapter["version"],
               "base": dpo_adapter["base"], "base_reason": dpo_adapter.get("base_reason", ""),
               "data_version": dpo_adapter["data_version"]},
        metadata={**metrics, "examples": MetadataValue.md(examples), "reused_evaluation": cached,
                  "merged_model": MetadataValue.path(str(merged)) if merged else "not merged",
                  "mlflow_run": MetadataValue.url(mlflow.run_url(dpo_adapter["run_id"]))},
    )


@asset_check(asset=dpo_eval, blocking=True,
             description="Held-out preference accuracy of the DPO policy at or above the floor of configs/gates.yaml; "
                         "records the verdict on the adapter version and makes it `challenger`.")
def dpo_preference_gate(context: AssetCheckExecutionContext, config: GateConfig, dpo_eval: dict,
                        mlflow: MlflowResource) -> AssetCheckResult:
    metrics = {k: dpo_eval["metrics"][k] for k in ("preference_accuracy", "moved_toward_rate")
               if k in dpo_eval["metrics"]}
    return run_gate(context, mlflow, "dpo_preference_gate", config, [(dpo_eval["model_name"], dpo_eval["version"])],
                    metrics, dpo_eval["data_version"])


def inbox_state(inbox: Path) -> str:
    """A fingerprint of the inbox: file names, sizes and modification times."""
    return stable_hash([(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in inbox_files(inbox)])


@sensor(job_name="preference_refresh", minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED,
        description="New or changed feedback files in the inbox start a preference refresh and a DPO run.")
def feedback_sensor(context: SensorEvaluationContext):
    inbox = feedback_inbox()
    if not inbox_files(inbox):
        return SkipReason(f"no feedback files in {inbox}")
    state = inbox_state(inbox)
    if state == context.cursor:
        return SkipReason("no new feedback since the last run")
    context.update_cursor(state)
    return RunRequest(run_key=state)
