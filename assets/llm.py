"""LLM-core assets: dialog corpus -> distilled student -> int8 student -> side-by-side evaluation."""

import json
import tempfile
from pathlib import Path
from typing import Any, Literal

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

from evals.llm_report import INT8, SPECULATIVE, STUDENT, TEACHER, LlmEvalConfig, evaluate_llm_core, flat_metrics
from evals.plots import model_comparison_png, training_curves_png
from pipelines.resources import DvcResource, MlflowResource, ModelStoreResource
from pipelines.settings import PROJECT_ROOT, project_path
from serving.int8_linear import METHOD
from serving.llm_pyfunc import MODEL_DIR_ARTIFACT, CausalLMPyfunc
from training.distill import DistillConfig, distill, init_student_from_teacher, spread_layers
from training.dialog_corpus import (
    SYSTEM_PROMPT,
    DialogCorpusConfig,
    build_corpus,
    read_corpus,
    sample_user_turns,
    teacher_replies,
    write_corpus,
)
from training.fileio import sha256_dir, stable_hash
from training.intent_dataset import load_split
from training.quantize import QUANT_INFO, quantize_int8

from .intent import pip_requirements
from .gates import GateConfig, run_gate, warn_when_failed
from .metadata import image
from .retries import TRANSIENT

GROUP = "llm"
LLM_EXPERIMENT = "llm_core"
CACHE_TAG = "convbot.cache_key"
EVAL_TAG = "convbot.eval_key"
_DIALOG = DialogCorpusConfig()
_DISTILL = DistillConfig()
_EVAL = LlmEvalConfig()


class DialogCorpusAssetConfig(Config):
    per_intent: int = _DIALOG.per_intent
    heldout_fraction: float = _DIALOG.heldout_fraction
    max_new_tokens: int = _DIALOG.max_new_tokens
    batch_size: int = _DIALOG.batch_size
    seed: int = _DIALOG.seed


@asset(group_name=GROUP, compute_kind="transformers", code_version="2", retry_policy=TRANSIENT)
def dialog_corpus(context: AssetExecutionContext, config: DialogCorpusAssetConfig, base_llm: dict,
                  intent_dataset: dict, dvc: DvcResource) -> MaterializeResult:
    """Domain dialogs under data/dialogs: user turns from the intent data, replies by the teacher."""
    cfg = DialogCorpusConfig(config.per_intent, config.heldout_fraction, config.max_new_tokens,
                             config.batch_size, config.seed)
    key = stable_hash([intent_dataset["content_sha256"], base_llm["checksum"], cfg.__dict__, SYSTEM_PROMPT])
    target = dvc.data_path / "dialogs"
    card_path = target / "corpus_card.json"
    if card_path.exists() and json.loads(card_path.read_text()).get("key") == key:
        context.log.info("dialog corpus is up to date (same intent data, teacher and config)")
    else:
        # user turns come from the intent training split only: intent test rows stay unseen
        turns = sample_user_turns(load_split(intent_dataset["path"], "train"), cfg.per_intent, cfg.seed)
        replies = teacher_replies(base_llm["path"], [t["user"] for t in turns], cfg)
        corpus = build_corpus(turns, replies, cfg)
        write_corpus(corpus, target, {"key": key, "teacher": base_llm["spec"], "teacher_sha256": base_llm["checksum"],
                                      "config": cfg.__dict__, "empty_replies_dropped": len(turns) - sum(map(len, corpus.values()))})
    version = dvc.commit_data()
    counts = {s: len(read_corpus(target, s)) for s in ("train", "heldout")}
    sample = read_corpus(target, "heldout")[:3]
    return MaterializeResult(
        data_version=DataVersion(dvc.folder_version("dialogs")),
        value={"path": str(target), "data_version": version, "content_sha256": sha256_dir(target)},
        metadata={"data_version": version, "dialogs_train": counts["train"], "dialogs_heldout": counts["heldout"],
                  "path": MetadataValue.path(str(target)),
                  "sample": MetadataValue.md("\n\n".join(
                      f"**user:** {r['messages'][1]['content']}  \n**teacher:** {r['messages'][2]['content']}"
                      for r in sample))},
    )


class StudentLlmConfig(Config):
    student_layers: int = Field(default=10, description="decoder layers of the student, taken evenly from the teacher's")
    recipe: str = Field(default=_DISTILL.recipe, description="YAML of transformers.TrainingArguments")
    overrides: dict[str, Any] = Field(default={}, description="TrainingArguments fields to override, e.g. max_steps")
    temperature: float = _DISTILL.temperature
    alpha: float = Field(default=_DISTILL.alpha, description="weight of token-level KL; 1 - alpha on the teacher's replies")
    max_length: int = _DISTILL.max_length
    registered_model_name: str = "convbot-student-llm"


def _reuse_or_none(mlflow: MlflowResource, key: str) -> dict | None:
    """The finished run (and its registered version) of an identical earlier materialization."""
    run_id = mlflow.find_finished_run(LLM_EXPERIMENT, {CACHE_TAG: key})
    if run_id is None:
        return None
    return {"run_id": run_id, "model_version": mlflow.client().get_run(run_id).data.tags["convbot.model_version"]}


@asset(group_name=GROUP, compute_kind="transformers", code_version="2")
def student_llm(context: AssetExecutionContext, config: StudentLlmConfig, base_llm: dict, dialog_corpus: dict,
                mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """The student LLM: the teacher's tokenizer and a subset of its layers, distilled on the dialogs; `challenger`."""
    import mlflow as mlf
    from transformers import AutoConfig

    recipe = project_path(config.recipe)
    n_teacher = AutoConfig.from_pretrained(base_llm["path"]).num_hidden_layers
    layers = spread_layers(n_teacher, config.student_layers)
    cfg = DistillConfig(str(recipe), dict(config.overrides), config.temperature, config.alpha, config.max_length)
    key = stable_hash([dialog_corpus["content_sha256"], base_llm["checksum"], layers, recipe.read_text(),
                       cfg.__dict__ | {"recipe": None}, config.registered_model_name])
    work = model_store.work_dir("student_llm", key)
    reused = _reuse_or_none(mlflow, key)
    if reused is None or not (work / "model").exists():
        init_dir = work / "init"
        if not (init_dir / "config.json").exists():
            init_student_from_teacher(base_llm["path"], init_dir, layers)
        train = read_corpus(dialog_corpus["path"], "train")
        heldout = read_corpus(dialog_corpus["path"], "heldout")
        tags = {CACHE_TAG: key, "convbot.data_version": dialog_corpus["data_version"],
                "convbot.teacher": base_llm["spec"], "convbot.kind": "student"}
        with mlflow.start_run(LLM_EXPERIMENT, f"student-{config.student_layers}L-{dialog_corpus['data_version'][:8]}",
                              tags) as run_id:
            mlf.log_params({"teacher": base_llm["spec"], "teacher_sha256": base_llm["checksum"],
                            "teacher_layers": n_teacher, "student_layers": config.student_layers,
                            "layer_map": ",".join(map(str, layers)), "temperature": config.temperature,
                            "alpha": config.alpha, "max_length": config.max_length, "recipe": config.recipe,
                            **{f"override.{k}": v for k, v in config.overrides.items()}})
            outcome = distill(base_llm["path"], init_dir, train, heldout, work, cfg,
                              metrics_sink=lambda m, step: mlf.log_metrics(m, step=step))
            mlf.log_params({k: outcome.training_args[k] for k in
                            ("learning_rate", "num_train_epochs", "per_device_train_batch_size", "max_steps", "seed")})
            mlf.log_metrics({f"final_{k}": v for k, v in outcome.validation.items()})
            curves = training_curves_png(outcome.log_history, work / "distill_curves.png", "Distillation",
                                         extra=("distill_kl", "distill_ce"))
            mlf.log_artifact(str(curves), "plots")
            from transformers import AutoModelForCausalLM, AutoTokenizer

            info = mlf.transformers.log_model(
                {"model": AutoModelForCausalLM.from_pretrained(outcome.model_dir),
                 "tokenizer": AutoTokenizer.from_pretrained(outcome.model_dir)},
                name="model", task="text-generation", pip_requirements=pip_requirements(),
                registered_model_name=config.registered_model_name,
            )
            version = mlflow.note_version(info)
        resumed = outcome.resumed_from
    else:
        context.log.info(f"reusing MLflow run {reused['run_id']}: same dialogs, teacher and recipe")
        run_id, version, resumed = reused["run_id"], reused["model_version"], None
    run = mlflow.client().get_run(run_id)
    curves = work / "distill_curves.png"
    return MaterializeResult(
        value={"run_id": run_id, "model_name": config.registered_model_name, "version": version,
               "model_dir": str(work / "model"), "teacher_dir": base_llm["path"], "key": key},
        metadata={"mlflow_run": MetadataValue.url(mlflow.run_url(run_id)), "registered_version": version,
                  "student_layers": config.student_layers, "layer_map": str(layers),
                  "resumed_from_checkpoint": str(resumed),
                  **{k: float(v) for k, v in run.data.metrics.items() if k.startswith("final_eval")},
                  **({"distill_curves": image(curves, "distillation curves")} if curves.exists() else {})},
    )


class QuantizedLlmConfig(Config):
    include_lm_head: bool = Field(default=True, description="quantize the output projection too (the largest matmul)")
    registered_model_name: str = "convbot-student-llm-int8"


@asset(group_name=GROUP, compute_kind="torch", code_version="2")
def quantized_llm(context: AssetExecutionContext, config: QuantizedLlmConfig, student_llm: dict,
                  mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """The student with int8 Linear weights (weight-only, CPU), registered as an MLflow pyfunc."""
    import mlflow as mlf

    key = stable_hash([student_llm["key"], METHOD, config.model_dump()])
    work = model_store.work_dir("quantized_llm", key)
    out = work / "int8"
    reused = _reuse_or_none(mlflow, key)
    if reused is None or not (out / QUANT_INFO).exists():
        if not (out / QUANT_INFO).exists():
            quantize_int8(student_llm["model_dir"], out, config.include_lm_head)
        info = json.loads((out / QUANT_INFO).read_text())
        tags = {CACHE_TAG: key, "convbot.kind": "int8", "convbot.student_run": student_llm["run_id"]}
        with mlflow.start_run(LLM_EXPERIMENT, f"int8-of-v{student_llm['version']}", tags) as run_id:
            mlf.log_params({"method": info["method"],
                            "student": f"{student_llm['model_name']}/{student_llm['version']}",
                            "quantized_modules": len(info["quantized_modules"])})
            mlf.log_metrics({"linear_weight_mb_fp32": info["linear_weight_bytes_fp32"] / 2**20,
                             "linear_weight_mb_int8": info["linear_weight_bytes_int8"] / 2**20,
                             "linear_compression": info["linear_compression"]})
            model_info = mlf.pyfunc.log_model(
                name="model", python_model=CausalLMPyfunc(), artifacts={MODEL_DIR_ARTIFACT: str(out)},
                code_paths=[str(PROJECT_ROOT / "serving")], pip_requirements=pip_requirements(),
                registered_model_name=config.registered_model_name,
            )
            version = mlflow.note_version(model_info)
    else:
        context.log.info(f"reusing MLflow run {reused['run_id']}: same student and settings")
        run_id, version = reused["run_id"], reused["model_version"]
    info = json.loads((out / QUANT_INFO).read_text())
    return MaterializeResult(
        value={"run_id": run_id, "model_name": config.registered_model_name, "version": version,
               "model_dir": str(out)},
        metadata={"mlflow_run": MetadataValue.url(mlflow.run_url(run_id)), "registered_version": version,
                  "linear_weight_mb_fp32": info["linear_weight_bytes_fp32"] / 2**20,
                  "linear_weight_mb_int8": info["linear_weight_bytes_int8"] / 2**20,
                  "linear_compression": float(info["linear_compression"]),
                  "quantized_modules": len(info["quantized_modules"]), "path": MetadataValue.path(str(out))},
    )


def _teacher_int8(base_llm: dict, model_store: ModelStoreResource) -> str:
    """The teacher in int8, quantized once per teacher checkpoint (a draft for quantized self-speculation)."""
    out = model_store.work_dir("teacher_int8", base_llm["checksum"][:16]) / "int8"
    if not (out / QUANT_INFO).exists():
        quantize_int8(base_llm["path"], out)
    return str(out)


class LlmEvalAssetConfig(Config):
    max_perplexity_dialogs: int = _EVAL.max_perplexity_dialogs
    speed_prompts: int = _EVAL.speed_prompts
    max_new_tokens: int = _EVAL.max_new_tokens
    num_draft_tokens: int = Field(default=_EVAL.num_draft_tokens, ge=1,
                                  description="tokens the draft proposes per teacher call in speculative decoding")
    threads: int = Field(default=0, description="torch threads per profiling process; 0 = torch's default")
    draft: Literal["student_int8", "teacher_int8"] = Field(
        default="student_int8",
        description="the draft in speculative decoding: the distilled student (int8), or the teacher itself in int8 "
                    "(quantized self-speculation; which is faster on a CPU: docs/benchmarks.md)")


@asset(group_name=GROUP, compute_kind="mlflow", code_version="2")
def llm_eval(context: AssetExecutionContext, config: LlmEvalAssetConfig, base_llm: dict, student_llm: dict,
             quantized_llm: dict, dialog_corpus: dict, mlflow: MlflowResource,
             model_store: ModelStoreResource) -> MaterializeResult:
    """Perplexity, draft acceptance, tokens/s and peak memory: teacher, student, int8 and teacher+draft."""
    import mlflow as mlf

    cfg = LlmEvalConfig(config.max_perplexity_dialogs, config.speed_prompts, config.max_new_tokens,
                        config.num_draft_tokens, _EVAL.max_length, config.threads or None)
    key = stable_hash([student_llm["key"], quantized_llm["run_id"], dialog_corpus["content_sha256"], cfg.__dict__,
                       config.draft])
    cached = mlflow.client().get_run(student_llm["run_id"]).data.tags.get(EVAL_TAG) == key
    if cached:  # the same models on the same dialogs: the numbers are in the run already
        context.log.info("reusing the evaluation logged in the student's run (same models, dialogs and settings)")
        report = mlflow.load_logged_dict(student_llm["run_id"], "llm_eval.json")
    else:
        heldout = read_corpus(dialog_corpus["path"], "heldout")
        draft_dir = (_teacher_int8(base_llm, model_store) if config.draft == "teacher_int8"
                     else quantized_llm["model_dir"])
        report = evaluate_llm_core(base_llm["path"], student_llm["model_dir"], quantized_llm["model_dir"], heldout, cfg,
                                   draft_dir=draft_dir)
    metrics = flat_metrics(report)
    rows = report["models"]
    with tempfile.TemporaryDirectory() as tmp:
        chart = model_comparison_png(rows, [("perplexity", "held-out perplexity"), ("tokens_per_s", "tokens / s"),
                                            ("peak_rss_mb", "peak memory (MiB)")],
                                     Path(tmp) / "llm_core_comparison.png", "LLM core, side by side")
        if not cached:
            with mlflow.resume_run(student_llm["run_id"]):
                mlf.log_metrics({f"eval.{k}": v for k, v in metrics.items()})
                mlf.log_dict(report, "llm_eval.json")
                mlf.log_artifact(str(chart), "plots")
                mlf.set_tag(EVAL_TAG, key)
        chart_meta = image(chart, "LLM core comparison")
    table = "| model | perplexity | tokens/s | peak MiB |\n|---|---|---|---|\n" + "".join(
        f"| {n} | {r.get('perplexity', float('nan')):.2f} | {r['tokens_per_s']:.1f} | {r['peak_rss_mb']:.0f} |\n"
        for n, r in rows.items())
    return MaterializeResult(
        value={"report": report, "metrics": metrics, "student_run_id": student_llm["run_id"],
               "student": {k: student_llm[k] for k in ("model_name", "version", "model_dir", "run_id")},
               "int8": {k: quantized_llm[k] for k in ("model_name", "version", "model_dir", "run_id")},
               "data_version": dialog_corpus["data_version"]},
        metadata={"comparison": MetadataValue.md(table), "chart": chart_meta, "reused_evaluation": cached,
                  "acceptance_rate": float(report["acceptance"]["acceptance_rate"]),
                  "speculative_identical": bool(report["speculative_identical"]),
                  **{k: float(v) for k, v in report["ratios"].items()},
                  "teacher_perplexity": float(rows[TEACHER]["perplexity"]),
                  "student_perplexity": float(rows[STUDENT]["perplexity"]),
                  "int8_perplexity": float(rows[INT8]["perplexity"]),
                  "speculative_tokens_per_s": float(rows[SPECULATIVE]["tokens_per_s"]), "draft": config.draft,
                  "mlflow_run": MetadataValue.url(mlflow.run_url(student_llm["run_id"]))},
    )


GATE_METRICS = ("speculative_identical", "int8_perplexity_ratio", "student_perplexity_ratio", "speculative_speedup")


@asset_check(asset=llm_eval, blocking=True,
             description="The student's held-out perplexity is within the floor of configs/gates.yaml of the "
                         "teacher's, speculative decoding reproduces the teacher's greedy tokens exactly and int8 keeps "
                         "perplexity; records the verdict on the student and its int8 version and makes them "
                         "`challenger`. DPO trains on a student that passed; when it fails (a warning: the bot still "
                         "ships) DPO trains on the teacher and the bot generates with that.")
def llm_gate(context: AssetCheckExecutionContext, config: GateConfig, llm_eval: dict,
             mlflow: MlflowResource) -> AssetCheckResult:
    report = llm_eval["report"]
    metrics = {k: float(llm_eval["metrics"][k]) for k in GATE_METRICS}
    metrics["acceptance_rate"] = float(report["acceptance"]["acceptance_rate"])
    judged = [(m["model_name"], m["version"]) for m in (llm_eval["student"], llm_eval["int8"])]
    result = run_gate(context, mlflow, "llm_gate", config, judged, metrics, llm_eval["data_version"],
                      extra_metadata={"mismatched_prompts": int(report["speculative_mismatched_prompts"]),
                                      "prompts": report["n_speed_prompts"]})
    generates_with = ("the student (after DPO)" if result.passed
                      else "the teacher (after DPO): the student did not pass llm_gate")
    # a failed student degrades the bot (it generates with the teacher, slower) rather than stopping it; the student
    # gets no alias, and dpo_adapter reads the failed verdict
    return warn_when_failed(result, bot_generates_with=generates_with)
