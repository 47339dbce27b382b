"""Embedder assets: the retriever's sentence encoder fine-tuned on user utterances under DP-SGD, and its evaluation."""

from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from evals.plots import model_comparison_png
from evals.retrieval import paraphrase_pairs, retrieval_metrics
from pipelines.resources import MlflowResource, ModelStoreResource
from training.dp_embedder import EMBEDDER_INFO, EmbedderTrainConfig, base_embedder, load_embedder, train_embedder
from training.fileio import stable_hash
from training.intent_dataset import load_split
from training.privacy_ledger import TAGS, check_budget, read_ledger, spent

from .metadata import image

GROUP = "embedder"
EXPERIMENT = "dp_embedder"
CACHE_TAG = "convbot.cache_key"
_EMB = EmbedderTrainConfig()


class DpEmbedderConfig(Config):
    target_epsilons: list[float] = Field(default=[8.0], description="one DP fine-tune per target epsilon")
    target_delta: float = _EMB.target_delta
    max_grad_norm: float = Field(default=_EMB.max_grad_norm, description="per-example clipping norm")
    epochs: int = _EMB.epochs
    batch_size: int = _EMB.batch_size
    learning_rate: float = _EMB.learning_rate
    data_source: str = Field(default="intent_dataset/train", description="the user data these runs spend budget on")
    privacy_budget: float = Field(default=20.0, description="total epsilon allowed on data_source, all DP runs together")
    registered_model_name: str = "convbot-dp-embedder"


def _train_cfg(config: DpEmbedderConfig, epsilon: float | None) -> EmbedderTrainConfig:
    return EmbedderTrainConfig(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
                               target_epsilon=epsilon, target_delta=config.target_delta,
                               max_grad_norm=config.max_grad_norm)


@asset(group_name=GROUP, compute_kind="opacus")
def dp_embedder(context: AssetExecutionContext, config: DpEmbedderConfig, intent_dataset: dict, base_encoder: dict,
                mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """Sentence encoder fine-tuned with DP-SGD at each target epsilon (plus a non-private baseline), registered."""
    import mlflow as mlf

    train = load_split(intent_dataset["path"], "train")
    texts, labels = train["text"].tolist(), train["intent"].tolist()
    client = mlflow.client()
    keys = {eps: stable_hash([intent_dataset["content_sha256"], base_encoder["checksum"], _train_cfg(config, eps).__dict__,
                              config.data_source, config.registered_model_name]) for eps in config.target_epsilons}
    todo = [eps for eps, key in keys.items() if mlflow.find_finished_run(EXPERIMENT, {CACHE_TAG: key}) is None]
    ledger = read_ledger(client, [config.registered_model_name])
    # refuse before any training: the new runs together must fit in what is left
    left = check_budget(ledger, config.data_source, sum(todo), config.privacy_budget)

    models = {}
    for eps in config.target_epsilons:
        key, work = keys[eps], model_store.work_dir("dp_embedder", keys[eps])
        run_id = mlflow.find_finished_run(EXPERIMENT, {CACHE_TAG: key})
        if run_id is None or not (work / "model" / EMBEDDER_INFO).exists():
            cfg = _train_cfg(config, eps)
            tags = {CACHE_TAG: key, "convbot.data_version": intent_dataset["data_version"], "convbot.dp": "true"}
            with mlflow.start_run(EXPERIMENT, f"dp-eps{eps:g}-{intent_dataset['data_version'][:8]}", tags) as run_id:
                mlf.log_params({"target_epsilon": eps, "target_delta": cfg.target_delta, "max_grad_norm": cfg.max_grad_norm,
                                "epochs": cfg.epochs, "expected_batch_size": cfg.batch_size, "poisson_sampling": True,
                                "learning_rate": cfg.learning_rate, "accountant": cfg.accountant,
                                "base_encoder": base_encoder["spec"], "data_source": config.data_source})
                out = train_embedder(base_encoder["path"], texts, labels, work / "model", cfg)
                for step, loss in enumerate(out.losses):
                    mlf.log_metric("train_loss", loss, step=step)
                mlf.log_metrics({"epsilon_spent": out.epsilon_spent, "noise_multiplier": out.noise_multiplier,
                                 "steps": out.steps})
                info = mlf.sentence_transformers.log_model(load_embedder(out.model_dir), name="model",
                                                           registered_model_name=config.registered_model_name)
                version = mlflow.note_version(info)
                guarantee = {"epsilon": f"{out.epsilon_spent:.6f}", "delta": f"{cfg.target_delta:g}",
                             "data_version": intent_dataset["data_version"], "data_source": config.data_source}
                for field, tag in TAGS.items():
                    client.set_model_version_tag(config.registered_model_name, version, tag, guarantee[field])
        run = client.get_run(run_id)
        models[str(eps)] = {"run_id": run_id, "model_dir": str(work / "model"), "version": run.data.tags["convbot.model_version"],
                            "epsilon_spent": run.data.metrics["epsilon_spent"]}

    # the non-private baseline: the same fine-tune without DP, for embedder_eval only (never registered)
    base_key = stable_hash([intent_dataset["content_sha256"], base_encoder["checksum"], _train_cfg(config, None).__dict__])
    baseline = model_store.work_dir("embedder_baseline", base_key) / "model"
    if not (baseline / EMBEDDER_INFO).exists():
        train_embedder(base_encoder["path"], texts, labels, baseline, _train_cfg(config, None))
    used, used_delta = spent(read_ledger(client, [config.registered_model_name]), config.data_source)
    return MaterializeResult(
        value={"models": models, "baseline_dir": str(baseline), "base_encoder": base_encoder["path"]},
        metadata={"epsilons_spent": MetadataValue.json({k: v["epsilon_spent"] for k, v in models.items()}),
                  "registered_versions": MetadataValue.json({k: v["version"] for k, v in models.items()}),
                  "budget_spent_on_source": used, "delta_spent_on_source": used_delta,
                  "budget_left_on_source": max(config.privacy_budget - used, 0.0), "budget_left_before_run": left + sum(todo),
                  "data_source": config.data_source, "train_examples": len(texts)},
    )


class EmbedderEvalConfig(Config):
    pairs_per_intent: int = Field(default=10, description="held-out paraphrase pairs per intent (test split)")


@asset(group_name=GROUP, compute_kind="sentence-transformers")
def embedder_eval(context: AssetExecutionContext, config: EmbedderEvalConfig, dp_embedder: dict, intent_dataset: dict,
                  mlflow: MlflowResource) -> MaterializeResult:
    """Recall@1, recall@5 and MRR on held-out paraphrase pairs: base, non-DP fine-tune, DP fine-tune per epsilon."""
    import mlflow as mlf

    test = load_split(intent_dataset["path"], "test")
    pairs = paraphrase_pairs(test["text"].tolist(), test["intent"].tolist(), config.pairs_per_intent)
    candidates = {"base": base_embedder(dp_embedder["base_encoder"]), "no_dp": load_embedder(dp_embedder["baseline_dir"])}
    candidates.update({f"dp_eps{eps}": load_embedder(m["model_dir"]) for eps, m in dp_embedder["models"].items()})
    rows = {name: retrieval_metrics(lambda xs, m=model: m.encode(xs, normalize_embeddings=True), pairs)
            for name, model in candidates.items()}
    for eps, m in dp_embedder["models"].items():
        with mlflow.resume_run(m["run_id"]):
            mlf.log_metrics({f"heldout_{k}": float(v) for k, v in rows[f"dp_eps{eps}"].items()})
            mlf.log_metrics({f"heldout_no_dp_{k}": float(v) for k, v in rows["no_dp"].items()})
            mlf.log_metrics({f"heldout_base_{k}": float(v) for k, v in rows["base"].items()})
    chart = model_comparison_png(rows, [("recall_at_1", "recall@1"), ("recall_at_5", "recall@5"), ("mrr", "MRR")],
                                 Path(dp_embedder["baseline_dir"]).parent / "retrieval.png", "Paraphrase retrieval")
    table = "| model | recall@1 | recall@5 | MRR |\n|---|---|---|---|\n" + "".join(
        f"| {n} | {r['recall_at_1']:.3f} | {r['recall_at_5']:.3f} | {r['mrr']:.3f} |\n" for n, r in rows.items())
    return MaterializeResult(
        value={"metrics": rows, "pairs": len(pairs)},
        metadata={"comparison": MetadataValue.md(table), "chart": image(chart, "retrieval"), "pairs": len(pairs),
                  **{f"{n}_mrr": float(r["mrr"]) for n, r in rows.items()}},
    )
