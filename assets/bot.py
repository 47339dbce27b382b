"""Bot assets: safety prompts -> guard model -> serving bundle (every gated model) -> safety evaluation of the
whole bot -> release gate."""


import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    Config,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from evals.intent_slice import build_real_slice, score_bot_in_scope
from evals.safety import (LlmJudge, answer_prompts, classifier_report, guard_split_rows, load_redteam, load_xstest,
                          rate_metrics, refused_by, safety_report)
from pipelines.resources import DvcResource, MlflowResource, ModelStoreResource
from pipelines.settings import PROJECT_ROOT, project_path
from serving.registry import PromotionRefused, verify_promotable
from training.catalog import load_catalog
from training.fileio import sha256_dir, sha256_file, stable_hash
from training.guard import train_guard
from training.intent_dataset import load_split, write_dataset
from training.intent_trainer import IntentTrainConfig
from training.lineage import code_version
from training.quantize import QUANT_INFO, quantize_int8
from training.real_data import load_intent_map
from training.safety_data import GENERATOR_VERSION, SafetyConfig, guard_intent, safety_dataset, split_safety

from .gates import GateConfig, run_gate
from .intent import pip_requirements
from .metadata import refusal_table
from .retries import TRANSIENT

GROUP = "bot"
EXPERIMENT = "bot"
CACHE_TAG = "convbot.cache_key"


class SafetyPromptsConfig(Config):
    benign_from_intents: int = Field(default=600, description="intent training rows added as safe requests (the "
                                                               "bot's own traffic must not look unsafe)")
    seed: int = SafetyConfig().seed


@asset(group_name=GROUP, compute_kind="dvc", code_version=f"gen{GENERATOR_VERSION}", retry_policy=TRANSIENT)
def safety_prompts(context: AssetExecutionContext, config: SafetyPromptsConfig, intent_dataset: dict,
                   dvc: DvcResource) -> MaterializeResult:
    """Unsafe requests and safe look-alikes written by the project (never XSTest), plus the assistant's own
    requests as safe, split by template under data/safety."""
    frame = safety_dataset(SafetyConfig(seed=config.seed))
    intents = load_split(intent_dataset["path"], "train")
    benign = intents.sample(n=min(config.benign_from_intents, len(intents)), random_state=config.seed)
    frame = pd.concat([frame, pd.DataFrame({"text": benign["text"], "label": "safe", "category": "benign",
                                            "source": "intent_train", "group": "intents/" + benign["group"]})],
                      ignore_index=True).drop_duplicates("text")
    splits = split_safety(frame)
    target = dvc.data_path / "safety"
    labels = sorted(set(guard_intent(frame)))
    write_dataset(splits, labels, target, {"generator_version": GENERATOR_VERSION, "seed": config.seed,
                                           "rows": {s: len(df) for s, df in splits.items()}})
    version = dvc.commit_data()
    counts = frame.groupby(["label", "category"]).size().unstack(fill_value=0).to_dict()
    return MaterializeResult(
        data_version=DataVersion(dvc.folder_version("safety")),
        value={"path": str(target), "data_version": version, "content_sha256": sha256_dir(target)},
        metadata={"rows": len(frame), **{f"rows_{s}": len(df) for s, df in splits.items()},
                  "per_category": MetadataValue.json(counts), "data_version": version},
    )


class GuardModelConfig(Config):
    overrides: dict[str, Any] = Field(default={"num_train_epochs": 3}, description="TrainingArguments overrides of "
                                                                                   "the intent recipe")
    min_recall: float = Field(default=0.97, description="validation recall of unsafe prompts the threshold aims for")
    max_false_positive_rate: float = Field(default=0.10, description="the most safe validation prompts the threshold "
                                                                     "may refuse (guard_gate's ceiling on test)")
    output_max_false_positive_rate: float = Field(default=0.02, description="the same ceiling for the output check "
                                                                            "on the LLM's answers: stricter, since an "
                                                                            "answer restates its request's topic")
    registered_model_name: str = "convbot-guard"


@asset(group_name=GROUP, compute_kind="transformers", code_version="1")
def guard_model(context: AssetExecutionContext, config: GuardModelConfig, safety_prompts: dict, base_encoder: dict,
                mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """The input/output safety classifier fine-tuned from the base encoder, threshold chosen on its validation split."""
    import mlflow as mlf

    from serving.guard.classifier import GuardClassifier

    cfg = IntentTrainConfig(overrides=dict(config.overrides))
    key = stable_hash([safety_prompts["content_sha256"], base_encoder["checksum"], cfg.__dict__, config.min_recall,
                       config.max_false_positive_rate, config.registered_model_name,
                       config.output_max_false_positive_rate])
    work = model_store.work_dir("guard_model", key)
    run_id = mlflow.find_finished_run(EXPERIMENT, {CACHE_TAG: key})
    if run_id is None or not (work / "model" / "config.json").exists():
        tags = {CACHE_TAG: key, "convbot.data_version": safety_prompts["data_version"], "convbot.kind": "guard"}
        with mlflow.start_run(EXPERIMENT, f"guard-{safety_prompts['data_version'][:8]}", tags) as run_id:
            mlf.log_params({"base_encoder": base_encoder["spec"], "min_recall": config.min_recall,
                            "max_false_positive_rate": config.max_false_positive_rate,
                            "output_max_false_positive_rate": config.output_max_false_positive_rate,
                            **{f"override.{k}": v for k, v in config.overrides.items()}})
            out = train_guard(safety_prompts["path"], base_encoder["path"], work, cfg, config.min_recall,
                              config.max_false_positive_rate,
                              metrics_sink=lambda m, step: mlf.log_metrics(m, step=step),
                              output_max_false_positive_rate=config.output_max_false_positive_rate)
            guard = GuardClassifier.from_pretrained(out.train.model_dir)
            test = load_split(safety_prompts["path"], "test")
            verdicts = guard.check(test["text"].tolist())
            unsafe = (test["intent"] != "safe").to_numpy()
            flagged = np.array([v.unsafe for v in verdicts])
            metrics = {**rate_metrics("test_unsafe_recall", flagged[unsafe]),
                       **rate_metrics("test_false_positive_rate", flagged[~unsafe]), "threshold": out.threshold,
                       "output_threshold": out.output_threshold,
                       "validation_recall": out.validation_recall,
                       "validation_false_positive_rate": out.validation_false_positive_rate,
                       "test_unsafe": float(unsafe.sum()), "test_safe": float((~unsafe).sum())}
            mlf.log_metrics(metrics)
            # per category: which unsafe kind slips through, which look-alike is refused
            held_out = safety_report(guard_split_rows(test, flagged))
            mlf.log_metrics({f"test_{key}.{category}": r[key]["value"]
                             for category, r in held_out["per_category"].items()
                             for key in ("safety", "over_refusal") if key in r})
            mlf.log_dict(held_out, "held_out_report.json")
            info = mlf.transformers.log_model({"model": guard.predictor.model, "tokenizer": guard.predictor.tokenizer},
                                              name="model", task="text-classification",
                                              pip_requirements=pip_requirements(),
                                              registered_model_name=config.registered_model_name)
            mlflow.note_version(info)
    run = mlflow.client().get_run(run_id)
    # the intervals are absent from runs made before they were logged
    names = ["threshold"] + [f"{rate}{end}" for rate in ("test_unsafe_recall", "test_false_positive_rate")
                             for end in ("", "_ci95_low", "_ci95_high")]
    metrics = {k: float(run.data.metrics[k]) for k in names if k in run.data.metrics}
    artifacts = {a.path for a in mlflow.client().list_artifacts(run_id)}
    # through the resource: a cached run (no `start_run` above) has not pointed MLflow's fluent API at the server
    per_category = (mlflow.load_logged_dict(run_id, "held_out_report.json")["per_category"]
                    if "held_out_report.json" in artifacts else None)
    return MaterializeResult(
        value={"run_id": run_id, "model_dir": str(work / "model"), "model_name": config.registered_model_name,
               "version": run.data.tags["convbot.model_version"], "metrics": metrics,
               "data_version": safety_prompts["data_version"]},
        metadata={**metrics, "registered_version": run.data.tags["convbot.model_version"],
                  **({"output_threshold": float(run.data.metrics["output_threshold"])}
                     if "output_threshold" in run.data.metrics else {}),
                  **({"per_category": refusal_table(per_category)} if per_category else {}),
                  "mlflow_run": MetadataValue.url(mlflow.run_url(run_id))},
    )


@asset_check(asset=guard_model, blocking=True,
             description="The guard catches unsafe prompts of its own held-out templates and lets safe look-alikes "
                         "through (floors in configs/gates.yaml); records the verdict and makes it `challenger`.")
def guard_gate(context: AssetCheckExecutionContext, config: GateConfig, guard_model: dict,
               mlflow: MlflowResource) -> AssetCheckResult:
    return run_gate(context, mlflow, "guard_gate", config, [(guard_model["model_name"], guard_model["version"])],
                    guard_model["metrics"], guard_model["data_version"])


class ServingBundleConfig(Config):
    registered_model_name: str = "convbot-bot"
    bot_config: str = "configs/bot/bot.yaml"
    brand: str = "configs/bot/brand.yaml"
    knowledge: str = "configs/bot/knowledge.yaml"


def _serving_llm(dpo_eval: dict, model_store: ModelStoreResource) -> Path:
    """The DPO base (the student that passed llm_gate, else the teacher) with the adapter merged, in int8 (built
    once per merged model)."""
    merged = Path(dpo_eval["merged_dir"])
    out = model_store.work_dir("serving_llm", sha256_dir(merged, "*.safetensors")[:16]) / "int8"
    if not (out / QUANT_INFO).exists():
        quantize_int8(merged, out)
    return out


@asset(group_name=GROUP, compute_kind="mlflow", code_version="1")
def serving_bundle(context: AssetExecutionContext, config: ServingBundleConfig, intent_eval: dict, guard_model: dict,
                   dpo_eval: dict, dp_embedder: dict, embedder_eval: dict, intent_catalog: dict,
                   mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """Everything the bot loads, each model the version its gate passed, pinned by a manifest of sha256s;
    registered as one MLflow model (`convbot-bot`)."""
    import mlflow as mlf

    from serving.bot_pyfunc import BUNDLE_ARTIFACT, BotPyfunc
    from serving.bundle import build_bundle, verify

    client = mlflow.client()
    models = {"intent": (intent_eval["model_name"], intent_eval["version"]),
              "guard": (guard_model["model_name"], guard_model["version"]),
              "llm": (dpo_eval["model_name"], dpo_eval["version"])}
    for part, (name, version) in models.items():
        verify_promotable(client, name, version)  # the gate of each part passed for this exact version
    candidate = embedder_eval["candidate"]
    try:
        verify_promotable(client, candidate["model_name"], candidate["version"])
        embedder = dp_embedder["models"][embedder_eval["release_epsilon"]]["model_dir"]
        models["embedder"] = (candidate["model_name"], candidate["version"])
        retrieval = f"{candidate['model_name']} v{candidate['version']}"
    except PromotionRefused as exc:
        context.log.warning(f"retrieval uses the base encoder: {exc}")
        embedder, retrieval = None, "base encoder (the DP encoder did not pass embedder_gate)"
    configs = {"bot.yaml": project_path(config.bot_config), "brand.yaml": project_path(config.brand),
               "knowledge.yaml": project_path(config.knowledge), "catalog.yaml": Path(intent_catalog["path"])}
    code = code_version()
    key = stable_hash([{p: v for p, (_, v) in models.items()}, {n: sha256_file(p) for n, p in configs.items()},
                       code.source_sha256, config.registered_model_name])
    folder = model_store.work_dir("serving_bundle", key) / "bundle"
    run_id = mlflow.find_finished_run(EXPERIMENT, {CACHE_TAG: key})
    if run_id is None or not (folder / "manifest.json").exists():
        meta = {"versions": {f"{name}": str(v) for name, v in models.values()}, "bundle_key": key,
                "data_version": intent_eval["data_version"], "code_version": code.label, "git_commit": code.commit,
                "git_dirty": code.dirty, "retrieval": retrieval, "llm_base": dpo_eval.get("base", "not recorded"),
                "created_at": time.time()}
        build_bundle(folder, {"intent": intent_eval["model_dir"], "guard": guard_model["model_dir"],
                              "llm": _serving_llm(dpo_eval, model_store), "embedder": embedder}, configs, meta)
        manifest = verify(folder)
        tags = {CACHE_TAG: key, "convbot.kind": "bundle", "convbot.data_version": intent_eval["data_version"],
                "convbot.bundle_sha256": manifest["bundle_sha256"]}
        with mlflow.start_run(EXPERIMENT, f"bundle-{manifest['bundle_sha256'][:8]}", tags) as run_id:
            mlf.log_dict(manifest, "manifest.json")
            info = mlf.pyfunc.log_model(name="bot", python_model=BotPyfunc(), artifacts={BUNDLE_ARTIFACT: str(folder)},
                                        code_paths=[str(PROJECT_ROOT / "serving"), str(PROJECT_ROOT / "training")],
                                        pip_requirements=pip_requirements(),
                                        registered_model_name=config.registered_model_name)
            mlflow.note_version(info)
    manifest = verify(folder)
    run = client.get_run(run_id)
    version = run.data.tags["convbot.model_version"]
    return MaterializeResult(
        value={"folder": str(folder), "model_name": config.registered_model_name, "version": version,
               "manifest_sha256": manifest["bundle_sha256"], "versions": manifest["versions"], "run_id": run_id,
               "data_version": intent_eval["data_version"], "intent_metrics": intent_eval["metrics"]},
        metadata={"registered_version": version, "bundle_sha256": manifest["bundle_sha256"],
                  "versions": MetadataValue.json(manifest["versions"]), "retrieval": retrieval,
                  # a dpo_eval stored before its base was recorded has neither
                  "generates_with": dpo_eval.get("base_reason") or dpo_eval.get("base", "not recorded"),
                  "files": len(manifest["files"]), "folder": MetadataValue.path(str(folder)),
                  "mlflow_run": MetadataValue.url(mlflow.run_url(run_id))},
    )


class SafetyEvalConfig(Config):
    xstest: str = Field(default="reference:xstest/xstest_prompts.csv", description="XSTest prompts (never trained on)")
    redteam: str = Field(default="evals/data/redteam.jsonl", description="the project's own red-team prompts")
    max_new_tokens: int = Field(default=24, description="LLM tokens per answer here: a refusal shows in its first words")
    real_slice: str = Field(default="reference:clinc150/data_full.json",
                            description="CLINC150 data_full.json: the whole bot routes its test rows of the catalog's "
                                        "intents (intent accuracy as users get it, the guard in front)")
    intent_map_path: str = Field(default="configs/clinc150_map.yaml", description="CLINC150 label -> catalog intent")
    judge_base_url: str = Field(default="", description="an OpenAI-compatible endpoint for a second, LLM judge")
    judge_model: str = "gpt-4o-mini"
    judge_api_key_env: str = "OPENAI_API_KEY"


def _real_slice(config: SafetyEvalConfig, bundle_folder: str):
    labels = load_catalog(Path(bundle_folder) / "catalog.yaml").labels
    return build_real_slice(project_path(config.real_slice), labels, load_intent_map(project_path(config.intent_map_path)))


@asset(group_name=GROUP, compute_kind="python", code_version="3")
def safety_eval(context: AssetExecutionContext, config: SafetyEvalConfig, serving_bundle: dict,
                mlflow: MlflowResource) -> MaterializeResult:
    """The whole bot (the exact bundle) on XSTest, the red-team set and real requests: safety, over-refusal,
    intent accuracy with the guard in front, routing latency."""
    import os

    import mlflow as mlf

    from serving.bot.bot import Bot
    from serving.bot.sessions import SqliteSessions

    xstest = load_xstest(project_path(config.xstest))
    xstest_prompts = set(xstest["prompt"])
    prompts = pd.concat([xstest, load_redteam(project_path(config.redteam))], ignore_index=True)
    with tempfile.TemporaryDirectory() as tmp:
        bot = Bot(serving_bundle["folder"], SqliteSessions(Path(tmp) / "sessions.db"))
        try:
            bot.llm.max_new_tokens = config.max_new_tokens
            own_refusals = list((bot.brand.reload_if_changed().get("refusals") or {}).values())
            turns, routing_ms = answer_prompts(bot, prompts["prompt"].tolist())
            guard_alone = classifier_report(prompts, bot.guard)
            real = _real_slice(config, serving_bundle["folder"])
            bot_intent, bot_correct = score_bot_in_scope(bot, real.frame)
        finally:
            bot.close()
    by = [refused_by(t, own_refusals) for t in turns]
    rows = prompts.assign(answer=[t.answer for t in turns], route=[t.route for t in turns],
                          refused=[b is not None for b in by], refused_by=by)
    routes = rows["route"].tolist()
    report = safety_report(rows)
    judge_agreement = None
    if config.judge_base_url:
        judge = LlmJudge(config.judge_base_url, config.judge_model, os.environ.get(config.judge_api_key_env, ""))
        judged = [judge.refused(p, a) for p, a in zip(rows["prompt"], rows["answer"])]
        judge_agreement = float(np.mean(np.array(judged) == rows["refused"].to_numpy()))
        report["llm_judge"] = safety_report(rows.assign(refused=judged))["overall"]
    xs = report["per_set"]["xstest"]
    metrics = {"safety": xs["safety"]["value"], "over_refusal": xs["over_refusal"]["value"],
               "safety_ci95_low": xs["safety"]["ci95"][0], "over_refusal_ci95_high": xs["over_refusal"]["ci95"][1],
               "redteam_safety": report["per_set"]["redteam"]["safety"]["value"],
               "redteam_over_refusal": report["per_set"]["redteam"]["over_refusal"]["value"],
               "routing_p95_ms": float(np.percentile(routing_ms, 95)) if routing_ms else float("nan"),
               "routing_p50_ms": float(np.percentile(routing_ms, 50)) if routing_ms else float("nan"),
               "llm_turns": float(routes.count("llm")),
               **bot_intent,
               **({"judge_agreement": judge_agreement} if judge_agreement is not None else {}),
               # the guard classifier alone: how well it separates unsafe from safe prompts, whatever the threshold
               **{f"guard_{name}_auroc": g["auroc"] for name, g in (guard_alone or {}).get("per_set", {}).items()
                  if g["auroc"] is not None}}
    with mlflow.resume_run(serving_bundle["run_id"]):
        mlf.log_metrics({f"safety_eval.{k}": v for k, v in metrics.items() if np.isfinite(v)})
        mlf.log_dict({**report, "guard_alone": guard_alone}, "safety_report.json")
    return MaterializeResult(
        value={"metrics": metrics, "report": {k: v for k, v in report.items() if k != "failures"},
               "model_name": serving_bundle["model_name"], "version": serving_bundle["version"],
               "data_version": serving_bundle["data_version"], "intent_metrics": serving_bundle["intent_metrics"],
               "folder": serving_bundle["folder"], "manifest_sha256": serving_bundle["manifest_sha256"],
               "run_id": serving_bundle["run_id"], "xstest": str(project_path(config.xstest)),
               # per XSTest prompt: did the whole bot refuse it (the golden set's reference)
               "xstest_refused": {p: bool(r) for p, r in zip(rows["prompt"], rows["refused"]) if p in xstest_prompts},
               "real_slice": {"path": str(project_path(config.real_slice)),
                              "intent_map_path": str(project_path(config.intent_map_path)),
                              "bot_correct": bot_correct}},  # per in-scope request (the golden set's reference)
        metadata={**{k: float(v) for k, v in metrics.items()}, "per_category": refusal_table(report["per_category"]),
                  "failures": MetadataValue.json(report["failures"][:50]), "failures_total": len(report["failures"]),
                  "refused_by": MetadataValue.json(report["refused_by"]),
                  "judge": "string match + the bot's refusals" + (" + LLM judge" if config.judge_base_url else "")},
    )


@asset_check(asset=safety_eval, blocking=True,
             description="Release gate of the whole bot: intent accuracy on real wording, safety and over-refusal on "
                         "XSTest, routing latency; floors in configs/gates.yaml. Records the verdict on the bundle.")
def release_gate(context: AssetCheckExecutionContext, config: GateConfig, safety_eval: dict,
                 mlflow: MlflowResource) -> AssetCheckResult:
    intent = safety_eval["intent_metrics"]
    metrics = {**safety_eval["metrics"], "intent_real_in_scope_accuracy": intent["real_in_scope_accuracy"],
               "intent_real_oos_recall": intent["real_oos_recall"]}
    return run_gate(context, mlflow, "release_gate", config, [(safety_eval["model_name"], safety_eval["version"])],
                    metrics, safety_eval["data_version"], extra_metadata={"bundle_sha256": safety_eval["manifest_sha256"]})
