"""Intent assets: catalog -> synthetic data -> versioned dataset -> model -> evaluation -> champion."""


import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    DataVersion,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from evals.gate import paired_difference
from evals.intent_slice import build_real_slice, correct_per_row, score_slice
from evals.intent_metrics import intent_report
from evals.plots import confusion_matrix_png, counts_png, training_curves_png
from pipelines.resources import DvcResource, MlflowResource, ModelStoreResource
from pipelines.settings import project_path, state_dir
from serving.registry import CHAMPION, PromotionRefused, alias_version, is_rolled_back, move_alias
from training.catalog import load_catalog
from training.dedup import NEAR_DUPLICATE_RATIO
from training.fileio import atomic_dir, atomic_write_json, sha256_dir, sha256_file, stable_hash
from training.intent_dataset import (
    SPLITS,
    SplitConfig,
    cross_split_duplicates,
    load_labels,
    load_split,
    sibling_pairs,
    split_frame,
    template_leaks,
    write_dataset,
)
from training.intent_predictor import IntentPredictor
from training.intent_trainer import IntentTrainConfig, NoveltyEncoder, train_intent_model
from training.paraphrase import LocalLLMParaphraser, OpenAICompatibleParaphraser
from training.real_data import import_labeled, load_intent_map
from training.synthetic import GENERATOR_VERSION, SynthesisConfig, drop_duplicates, synthesize

from .gates import GateConfig, run_gate
from .metadata import image, table_md
from .retries import TRANSIENT

GROUP = "intent"
INTENT_EXPERIMENT = "intent_model"
CACHE_TAG = "convbot.cache_key"

_SYN = SynthesisConfig()
_SPLIT = SplitConfig()
_TRAIN = IntentTrainConfig()
_NOVELTY = NoveltyEncoder(spec="", sha256="")


class IntentCatalogConfig(Config):
    path: str = Field(default="configs/intent_catalog.yaml", description="catalog YAML, relative to the project")


@asset(group_name=GROUP, compute_kind="yaml", code_version="1")
def intent_catalog(context: AssetExecutionContext, config: IntentCatalogConfig) -> MaterializeResult:
    """The validated intent catalog: intents, descriptions, slot types and seed utterances."""
    path = project_path(config.path)
    catalog = load_catalog(path)
    domains = sorted({i.domain for i in catalog.intents})
    return MaterializeResult(
        value={"path": str(path), "sha256": sha256_file(path), "labels": catalog.labels},
        metadata={"path": MetadataValue.path(str(path)), "intents": len(catalog.intents),
                  "seeds": sum(len(i.seeds) for i in catalog.intents), "domains": ", ".join(domains)},
    )


class SyntheticIntentsConfig(Config):
    paraphraser: str = Field(default="local", description="'local' (the base LLM), 'openai' (any OpenAI-compatible endpoint) or 'none'")
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = "gpt-4o-mini"
    openai_api_key_env: str = Field(default="OPENAI_API_KEY", description="environment variable holding the key")
    per_intent_templates: int = _SYN.per_intent_templates
    paraphrase_sources_per_intent: int = _SYN.paraphrase_sources_per_intent
    paraphrases_per_source: int = _SYN.paraphrases_per_source
    variants_per_intent: int = Field(default=_SYN.variants_per_intent,
                                     description="surface variants per intent: casing, typos, indirect requests")
    out_of_scope_rows: int = Field(default=_SYN.out_of_scope_rows,
                                   description="generated off-topic requests added to the out-of-scope intent")
    batch_size: int = 16
    seed: int = _SYN.seed


@asset(group_name=GROUP, compute_kind="transformers", code_version="3")
def synthetic_intents(
    context: AssetExecutionContext, config: SyntheticIntentsConfig, intent_catalog: dict, base_llm: dict
) -> MaterializeResult:
    """Utterances per intent from templates with slot filling and LLM paraphrase, filtered and deduplicated."""
    catalog = load_catalog(intent_catalog["path"])
    syn = SynthesisConfig(
        per_intent_templates=config.per_intent_templates,
        paraphrase_sources_per_intent=config.paraphrase_sources_per_intent,
        paraphrases_per_source=config.paraphrases_per_source, variants_per_intent=config.variants_per_intent,
        out_of_scope_rows=config.out_of_scope_rows, seed=config.seed,
    )
    generator = {"none": None, "local": base_llm["checksum"], "openai": f"{config.openai_base_url}|{config.openai_model}"}
    if config.paraphraser not in generator:
        raise ValueError(f"synthetic_intents config, field 'paraphraser': unknown value '{config.paraphraser}'")
    key = stable_hash([GENERATOR_VERSION, intent_catalog["sha256"], syn.__dict__, config.paraphraser, generator[config.paraphraser]])
    out = state_dir() / "synthetic" / key
    if not (out / "intents.parquet").exists():
        paraphraser = None
        if config.paraphraser == "local":
            paraphraser = LocalLLMParaphraser(base_llm["path"], batch_size=config.batch_size, seed=config.seed)
        elif config.paraphraser == "openai":
            paraphraser = OpenAICompatibleParaphraser(config.openai_base_url, config.openai_model,
                                                      os.environ.get(config.openai_api_key_env, ""))
        result = synthesize(catalog, syn, paraphraser)
        with atomic_dir(out) as tmp:
            result.frame.to_parquet(tmp / "intents.parquet", index=False)
            (tmp / "stats.json").write_text(json.dumps(result.stats(), indent=2))
    else:
        context.log.info(f"reusing synthetic data {out} (same catalog, config and generator)")
    stats = json.loads((out / "stats.json").read_text())
    frame = pd.read_parquet(out / "intents.parquet")
    by_source = {i: g["source"].value_counts().to_dict() for i, g in frame.groupby("intent")}
    chart = counts_png(by_source, Path(tempfile.mkdtemp()) / "per_intent.png", "synthetic rows per intent")
    return MaterializeResult(
        value={"path": str(out / "intents.parquet"), "key": key},
        metadata={
            "rows": stats["rows"], "words_mean": stats["words_mean"], "words_max": stats["words_max"],
            "per_intent": MetadataValue.json(stats["per_intent"]), "per_source": MetadataValue.json(stats["per_source"]),
            "rejected": MetadataValue.json(stats["rejected"]), "path": MetadataValue.path(str(out)),
            "per_intent_chart": image(chart, "rows per intent"),
        },
    )


class RealDataSource(Config):
    path: str = Field(description="CLINC150 data_full.json or a CSV with text,intent")
    format: str = Field(default="csv", description="'csv' or 'clinc150'")
    splits: list[str] = Field(default=["train"], description="CLINC150 splits to take")
    intent_map: dict[str, str] = Field(default={}, description="source label -> catalog intent")
    intent_map_path: str = Field(default="", description="a YAML file of source label -> catalog intent (merged under "
                                                         "intent_map), e.g. configs/clinc150_map.yaml")


class IntentDatasetConfig(Config):
    real_data: list[RealDataSource] = Field(default=[], description="real labeled data merged into the synthetic rows")
    strict: bool = Field(default=False, description="fail on the first bad row instead of quarantining it")
    validation_fraction: float = _SPLIT.validation_fraction
    test_fraction: float = _SPLIT.test_fraction
    seed: int = _SPLIT.seed


@asset(group_name=GROUP, compute_kind="dvc", code_version="3", retry_policy=TRANSIENT)
def intent_dataset(
    context: AssetExecutionContext, config: IntentDatasetConfig, synthetic_intents: dict,
    intent_catalog: dict, dvc: DvcResource,
) -> MaterializeResult:
    """Train/validation/test splits under data/intents (Parquet), versioned by DVC."""
    frames = [pd.read_parquet(synthetic_intents["path"])]
    quarantined: list[dict] = []
    for src in config.real_data:
        intent_map = {**load_intent_map(project_path(src.intent_map_path)), **src.intent_map} if src.intent_map_path \
            else src.intent_map
        imported = import_labeled(project_path(src.path), src.format, splits=src.splits,
                                  labels=intent_catalog["labels"], intent_map=intent_map, strict=config.strict)
        frames.append(imported.frame)
        quarantined += imported.quarantined
    merged = drop_duplicates(pd.concat(frames, ignore_index=True), threshold=None)
    split_cfg = SplitConfig(config.validation_fraction, config.test_fraction, config.seed, NEAR_DUPLICATE_RATIO)
    catalog = load_catalog(intent_catalog["path"])
    links = sibling_pairs(merged["text"].tolist(), _slot_values(catalog), catalog.prefixes + catalog.suffixes)
    splits = split_frame(merged, split_cfg, links)
    target = dvc.data_path / "intents"
    write_dataset(splits, intent_catalog["labels"], target, {
        "synthetic": synthetic_intents["key"], "split": split_cfg.__dict__,
        "real_data": [s.model_dump() for s in config.real_data], "quarantined": len(quarantined),
        "rows": {s: len(splits[s]) for s in SPLITS},
    })
    if quarantined:
        atomic_write_json(state_dir() / "quarantine" / "intent_dataset.json", quarantined)
        context.log.warning(f"quarantined {len(quarantined)} imported rows, e.g. {quarantined[0]}")
    version = dvc.commit_data()
    return MaterializeResult(
        # data_version (the DVC hash of all of data/) labels runs; content_sha256 (this dataset only)
        # decides whether a model must be retrained, so new dialogs do not retrain the intent model;
        # Dagster's DataVersion comes from the md5s DVC recorded for data/intents
        data_version=DataVersion(dvc.folder_version("intents")),
        value={"path": str(target), "data_version": version, "content_sha256": sha256_dir(target),
               "catalog_path": intent_catalog["path"]},
        metadata={
            "data_version": version, "path": MetadataValue.path(str(target)),
            **{f"rows_{s}": len(splits[s]) for s in SPLITS},
            "quarantined_rows": len(quarantined),
            "quarantine_sample": MetadataValue.json(quarantined[:20]),
            "sources": MetadataValue.json(merged["source"].value_counts().to_dict()),
        },
    )


def _slot_values(catalog) -> list[str]:
    return [v for vs in catalog.slots.values() for v in vs]


@asset_check(asset=intent_dataset, blocking=True,
             description="No text shared across splits: exact and near duplicates (character similarity), and template "
                         "siblings (slot-masked word bigrams), checked on the written splits.")
def no_split_leakage(intent_dataset: dict) -> AssetCheckResult:
    splits = {s: load_split(intent_dataset["path"], s) for s in SPLITS}
    catalog = load_catalog(intent_dataset["catalog_path"])
    near = cross_split_duplicates(splits)
    siblings = template_leaks(splits, _slot_values(catalog), catalog.prefixes + catalog.suffixes)
    return AssetCheckResult(
        passed=not near and not siblings,
        metadata={"near_duplicate_pairs": len(near), "template_sibling_pairs": len(siblings),
                  "examples": MetadataValue.json([list(x) for x in (near + siblings)[:10]])})


class IntentModelConfig(Config):
    recipe: str = Field(default=_TRAIN.recipe, description="YAML of transformers.TrainingArguments")
    overrides: dict[str, Any] = Field(default={}, description="TrainingArguments fields to override, e.g. num_train_epochs")
    max_length: int = _TRAIN.max_length
    early_stopping_patience: int = _TRAIN.early_stopping_patience
    registered_model_name: str = "intent-classifier"
    novelty_off_topic_requests: int = Field(
        default=_NOVELTY.off_topic_requests,
        description="generated off-topic requests that join the validation rows to fit the out-of-scope score "
                    "(base-encoder similarity to the intents plus calibrated confidence); 0: confidence alone")


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("torch", "transformers", "tokenizers", "safetensors")]


@asset(group_name=GROUP, compute_kind="mlflow", code_version="3")
def intent_model(
    context: AssetExecutionContext, config: IntentModelConfig, intent_dataset: dict, base_encoder: dict,
    mlflow: MlflowResource, model_store: ModelStoreResource,
) -> MaterializeResult:
    """The intent classifier fine-tuned on the versioned dataset, logged and registered as `challenger`."""
    import mlflow as mlf

    recipe = project_path(config.recipe)
    train_cfg = IntentTrainConfig(str(recipe), dict(config.overrides), config.max_length, config.early_stopping_patience)
    novelty = (NoveltyEncoder(base_encoder["spec"], base_encoder["checksum"], config.novelty_off_topic_requests)
               if config.novelty_off_topic_requests > 0 else None)
    key = stable_hash([intent_dataset["content_sha256"], base_encoder["checksum"], recipe.read_text(),
                       train_cfg.__dict__ | {"recipe": None}, config.registered_model_name,
                       asdict(novelty) if novelty else None])
    tags = {CACHE_TAG: key, "convbot.data_version": intent_dataset["data_version"],
            "convbot.base_encoder": base_encoder["spec"]}
    run_id = mlflow.find_finished_run(INTENT_EXPERIMENT, {CACHE_TAG: key})
    work = model_store.work_dir("intent_model", key)
    if run_id is None:
        with mlflow.start_run(INTENT_EXPERIMENT, f"intent-{intent_dataset['data_version'][:8]}", tags) as run_id:
            mlf.log_params({"base_encoder": base_encoder["spec"], "base_encoder_sha256": base_encoder["checksum"],
                            "max_length": config.max_length, "early_stopping_patience": config.early_stopping_patience,
                            "recipe": str(config.recipe), **{f"override.{k}": v for k, v in config.overrides.items()}})
            outcome = train_intent_model(intent_dataset["path"], base_encoder["path"], work, train_cfg,
                                         metrics_sink=lambda m, step: mlf.log_metrics(m, step=step), novelty=novelty)
            mlf.log_params({k: v for k, v in outcome.training_args.items()
                            if k in ("learning_rate", "num_train_epochs", "per_device_train_batch_size", "seed",
                                     "weight_decay", "max_steps")})
            mlf.log_metrics({f"final_{k}": v for k, v in outcome.validation.items()})
            with tempfile.TemporaryDirectory() as tmp:
                curves = training_curves_png(outcome.log_history, Path(tmp) / "training_curves.png")
                mlf.log_artifact(str(curves), "plots")
                shutil.copyfile(curves, work / "training_curves.png")
            mlf.log_dict({i: l for i, l in enumerate(outcome.labels)}, "label_map.json")
            predictor = IntentPredictor.from_pretrained(outcome.model_dir)
            info = mlf.transformers.log_model(
                {"model": predictor.model, "tokenizer": predictor.tokenizer}, name="model",
                task="text-classification", pip_requirements=pip_requirements(),
                registered_model_name=config.registered_model_name,
            )
            mlflow.note_version(info)
        resumed = outcome.resumed_from
    else:
        context.log.info(f"reusing MLflow run {run_id}: same data, base model and recipe")
        resumed = None
    run = mlflow.client().get_run(run_id)
    version = run.data.tags["convbot.model_version"]
    metrics = {k: v for k, v in run.data.metrics.items() if k.startswith("final_eval")}
    curves = work / "training_curves.png"
    return MaterializeResult(
        value={"run_id": run_id, "model_name": config.registered_model_name, "version": version,
               "model_dir": str(work / "model"), "data_version": intent_dataset["data_version"]},
        metadata={
            "mlflow_run": MetadataValue.url(mlflow.run_url(run_id)), "registered_version": version,
            "data_version": intent_dataset["data_version"], "resumed_from_checkpoint": str(resumed),
            **{k: float(v) for k, v in metrics.items()},
            **({"training_curves": image(curves, "training curves")} if curves.exists() else {}),
        },
    )


class IntentEvalConfig(Config):
    real_slice: str = Field(default="reference:clinc150/data_full.json",
                            description="CLINC150 data_full.json: its test and oos_test rows are the real evaluation slice")
    intent_map_path: str = Field(default="configs/clinc150_map.yaml", description="CLINC150 label -> catalog intent")


@asset(group_name=GROUP, compute_kind="mlflow", code_version="4")
def intent_eval(context: AssetExecutionContext, config: IntentEvalConfig, intent_model: dict, intent_dataset: dict,
                mlflow: MlflowResource) -> MaterializeResult:
    """The challenger and the champion on real users' wording (CLINC150 test + out-of-scope, the bot's decision rule)
    and on the held-out synthetic split."""
    import mlflow as mlf

    name = intent_model["model_name"]
    labels = load_labels(intent_dataset["path"])
    real = build_real_slice(project_path(config.real_slice), labels, load_intent_map(project_path(config.intent_map_path)))
    test = load_split(intent_dataset["path"], "test")
    challenger = _load_predictor(mlflow, intent_model["model_dir"], name, intent_model["version"])
    result = _evaluate(challenger, real, test)

    champion_version = alias_version(mlflow.client(), name, CHAMPION)
    champion = None
    if champion_version is not None and champion_version != intent_model["version"]:
        champion = _evaluate(_load_predictor(mlflow, None, name, champion_version), real, test)

    metrics = result["metrics"]
    with tempfile.TemporaryDirectory() as tmp:
        cm_png = confusion_matrix_png(result["report"].confusion, result["report"].labels,
                                      Path(tmp) / "confusion_matrix.png", f"{name} v{intent_model['version']} on held-out test")
        real_png = confusion_matrix_png(result["real_confusion"], result["real_labels"],
                                        Path(tmp) / "real_confusion_matrix.png",
                                        f"{name} v{intent_model['version']} on CLINC150 (decisions)")
        with mlflow.resume_run(intent_model["run_id"]):
            mlf.log_metrics({f"eval_{k}": v for k, v in metrics.items() if np.isfinite(v)})
            mlf.log_artifact(str(cm_png), "plots")
            mlf.log_artifact(str(real_png), "plots")
            mlf.log_dict(result["report"].per_intent, "per_intent_report.json")
            mlf.log_dict(result["real_errors"], "real_slice_errors.json")
        cm_meta, real_meta = image(cm_png, "confusion matrix"), image(real_png, "real-slice confusion matrix")
    return MaterializeResult(
        value={"metrics": metrics, "champion_metrics": champion["metrics"] if champion else None,
               "champion_version": champion_version, "correct": result["correct"],
               "champion_correct": champion["correct"] if champion else None,
               "data_version": intent_model["data_version"], "model_name": name, "version": intent_model["version"],
               "model_dir": intent_model["model_dir"], "run_id": intent_model["run_id"], "coverage": real.coverage},
        metadata={
            **{k: float(v) for k, v in metrics.items()},
            "real_slice_coverage": f"{real.coverage}: {', '.join(real.covered)}",
            "calibrated": challenger.calibrated, "threshold": challenger.threshold,
            "temperature": challenger.temperature,
            "out_of_scope_rule": "novelty score (base-encoder similarity + confidence)" if challenger.novelty
            else "confidence threshold",
            **({"novelty_threshold": challenger.novelty.threshold} if challenger.novelty else {}),
            "champion_version": str(champion_version),
            "champion_real_in_scope_accuracy": float(champion["metrics"]["real_in_scope_accuracy"]) if champion
            else float("nan"),
            "confusion_matrix": cm_meta, "real_confusion_matrix": real_meta,
            "real_errors_sample": MetadataValue.json(result["real_errors"][:20]),
            "per_intent": table_md(result["report"].per_intent, ["precision", "recall", "f1", "support"]),
            "mlflow_run": MetadataValue.url(mlflow.run_url(intent_model["run_id"])),
        },
    )


def _load_predictor(mlflow: MlflowResource, model_dir: str | None, name: str, version: str) -> IntentPredictor:
    if model_dir and Path(model_dir).exists():
        return IntentPredictor.from_pretrained(model_dir)
    # the champion, or a challenger whose local work folder was cleaned: the registry has the same weights
    parts = mlflow.load_transformers(f"models:/{name}/{version}")
    return IntentPredictor(parts["model"], parts["tokenizer"])


def _evaluate(predictor: IntentPredictor, real, test) -> dict:
    """Real slice with the bot's decisions (gated), synthetic held-out split (reported)."""
    from sklearn.metrics import confusion_matrix

    texts, gold = real.frame["text"].tolist(), real.frame["intent"].tolist()
    assessed = predictor.assess(texts)
    decisions = assessed.decisions
    real_metrics = score_slice(decisions, assessed.in_scope_score, gold)
    report = intent_report(test["intent"].tolist(), predictor.predict_proba(test["text"].tolist()), predictor.labels)
    shown = sorted(set(gold) | set(decisions))
    return {
        "metrics": {**{f"real_{k}": v for k, v in real_metrics.items()}, **report.metrics},
        "correct": correct_per_row(decisions, gold), "report": report,
        "real_confusion": confusion_matrix(gold, decisions, labels=shown), "real_labels": shown,
        "real_errors": [{"text": t, "gold": g, "decision": d} for t, g, d in zip(texts, gold, decisions) if g != d],
    }


@asset_check(asset=intent_eval, blocking=True,
             description="On real users' wording (CLINC150), in-scope accuracy and out-of-scope recall at the serving "
                         "threshold above the floors of configs/gates.yaml, calibration error within its floor, and no "
                         "significant drop against the champion (paired 95% interval); records the verdict on the "
                         "version and makes it `challenger`.")
def intent_gate(context: AssetCheckExecutionContext, config: GateConfig, intent_eval: dict,
                mlflow: MlflowResource) -> AssetCheckResult:
    comparison = None
    if intent_eval["champion_correct"] is not None:
        comparison = paired_difference(intent_eval["correct"], intent_eval["champion_correct"])
    return run_gate(context, mlflow, "intent_gate", config, [(intent_eval["model_name"], intent_eval["version"])],
                    intent_eval["metrics"], intent_eval["data_version"], comparison,
                    {"champion_version": str(intent_eval["champion_version"]),
                     "real_slice_coverage": intent_eval["coverage"]})


@asset(group_name=GROUP, compute_kind="mlflow", code_version="2")
def intent_champion(context: AssetExecutionContext, intent_eval: dict, mlflow: MlflowResource) -> MaterializeResult:
    """The registry alias `champion`, moved to the evaluated version when its recorded gate verdict allows it."""
    name, version = intent_eval["model_name"], intent_eval["version"]
    client = mlflow.client()
    try:
        previous = move_alias(client, name, CHAMPION, version, actor=f"dagster run {context.run_id}",
                              reason="intent_gate passed")
    except PromotionRefused as exc:
        if not is_rolled_back(client, name, version):
            raise
        # an unchanged re-run after a rollback: production stays where the person put it
        context.log.warning(str(exc))
        current = alias_version(client, name, CHAMPION)
        return MaterializeResult(
            value={"model_name": name, "version": current, "previous": current, "promoted": False},
            metadata={"champion_version": str(current), "promoted": False, "refused": str(exc)})
    context.log.info(f"{name}: champion {previous} -> {version}")
    return MaterializeResult(
        value={"model_name": name, "version": version, "previous": previous, "promoted": previous != version},
        metadata={"champion_version": version, "previous_champion": str(previous), "promoted": previous != version,
                  "restore_previous": f"make restore-champion MODEL={name}",
                  "history": "python -m pipelines.cli history --model " + name},
    )
