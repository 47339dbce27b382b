"""Embedder assets: the retriever's sentence encoder fine-tuned on user utterances under DP-SGD, and its evaluation."""

import tempfile
from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from evals.plots import model_comparison_png
from evals.retrieval import paraphrase_pairs, retrieval_metrics
from pipelines.resources import MlflowResource, ModelStoreResource
from training.dp_embedder import EMBEDDER_INFO, EmbedderTrainConfig, base_embedder, load_embedder, train_embedder
from training.fileio import stable_hash
from training.intent_dataset import load_split
from training.privacy_ledger import TAGS, PrivacyLedger, data_fingerprint

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
    pairs_per_intent: int = Field(default=10, description="held-out paraphrase pairs per intent (test split)")
    registered_model_name: str = "convbot-dp-embedder"


def _train_cfg(config: DpEmbedderConfig, epsilon: float | None) -> EmbedderTrainConfig:
    return EmbedderTrainConfig(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
                               target_epsilon=epsilon, target_delta=config.target_delta,
                               max_grad_norm=config.max_grad_norm)


def _heldout_pairs(intent_dataset: dict, per_intent: int) -> list[tuple[str, str]]:
    test = load_split(intent_dataset["path"], "test")
    return paraphrase_pairs(test["text"].tolist(), test["intent"].tolist(), per_intent)


def _encode(model):
    return lambda xs: model.encode(xs, normalize_embeddings=True)


@asset(group_name=GROUP, compute_kind="opacus", code_version="2")
def dp_embedder(context: AssetExecutionContext, config: DpEmbedderConfig, intent_dataset: dict, base_encoder: dict,
                mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """Sentence encoder fine-tuned with DP-SGD at each target epsilon, every training reserved in the privacy ledger first."""
    import mlflow as mlf

    train_file = Path(intent_dataset["path"]) / "train.parquet"
    train = load_split(intent_dataset["path"], "train")
    texts, labels = train["text"].tolist(), train["intent"].tolist()
    client = mlflow.client()
    ledger = PrivacyLedger(client)
    fingerprint = data_fingerprint(train_file)
    keys = {eps: stable_hash([fingerprint, base_encoder["checksum"], _train_cfg(config, eps).__dict__,
                              config.registered_model_name]) for eps in config.target_epsilons}
    done = {eps: mlflow.find_finished_run(EXPERIMENT, {CACHE_TAG: key}) for eps, key in keys.items()}
    todo = [eps for eps in config.target_epsilons
            if done[eps] is None or not (model_store.work_dir("dp_embedder", keys[eps]) / "model" / EMBEDDER_INFO).exists()]
    # refuse before any training: every new training must fit in what is left, together
    ledger.check(fingerprint, sum(todo), config.target_delta * len(todo))

    models = {}
    for eps in config.target_epsilons:
        key, work = keys[eps], model_store.work_dir("dp_embedder", keys[eps])
        run_id = done[eps]
        if eps in todo:
            cfg = _train_cfg(config, eps)
            # reserved before training: a crash from here on leaves the spend counted
            reservation = ledger.reserve(fingerprint, eps, cfg.target_delta, f"dp_embedder eps {eps:g} ({key})",
                                         intent_dataset["data_version"])
            tags = {CACHE_TAG: key, "convbot.data_version": intent_dataset["data_version"], "convbot.dp": "true",
                    "convbot.privacy.ledger_entry": reservation.id}
            with mlflow.start_run(EXPERIMENT, f"dp-eps{eps:g}-{intent_dataset['data_version'][:8]}", tags) as run_id:
                mlf.log_params({"target_epsilon": eps, "target_delta": cfg.target_delta, "max_grad_norm": cfg.max_grad_norm,
                                "epochs": cfg.epochs, "expected_batch_size": cfg.batch_size, "poisson_sampling": True,
                                "learning_rate": cfg.learning_rate, "accountant": cfg.accountant,
                                "base_encoder": base_encoder["spec"], "data_fingerprint": fingerprint})
                out = train_embedder(base_encoder["path"], texts, labels, work / "model", cfg)
                ledger.settle(reservation, out.epsilon_spent, cfg.target_delta)
                for step, loss in enumerate(out.losses):
                    mlf.log_metric("train_loss", loss, step=step)
                mlf.log_metrics({"epsilon_spent": out.epsilon_spent, "noise_multiplier": out.noise_multiplier,
                                 "steps": out.steps})
                info = mlf.sentence_transformers.log_model(load_embedder(out.model_dir), name="model")
                # the guarantee is on the version from the moment it exists (the ledger entry already counts it)
                guarantee = {TAGS["epsilon"]: f"{out.epsilon_spent:.6f}", TAGS["delta"]: f"{cfg.target_delta:g}",
                             TAGS["data_version"]: intent_dataset["data_version"], TAGS["fingerprint"]: fingerprint,
                             TAGS["ledger_entry"]: reservation.id}
                mv = mlf.register_model(info.model_uri, config.registered_model_name, tags=guarantee)
                mlf.set_tag("convbot.model_version", str(mv.version))
        run = client.get_run(run_id)
        models[str(eps)] = {"run_id": run_id, "model_dir": str(work / "model"), "version": run.data.tags["convbot.model_version"],
                            "epsilon_spent": run.data.metrics["epsilon_spent"]}

    reference = _no_dp_reference(context, config, intent_dataset, base_encoder, texts, labels, fingerprint, mlflow)
    used, used_delta = ledger.spent(fingerprint)
    return MaterializeResult(
        value={"models": models, "no_dp_metrics": reference, "base_encoder": base_encoder["path"],
               "pairs_per_intent": config.pairs_per_intent,
               "data_fingerprint": fingerprint, "data_version": intent_dataset["data_version"]},
        metadata={"epsilons_spent": MetadataValue.json({k: v["epsilon_spent"] for k, v in models.items()}),
                  "registered_versions": MetadataValue.json({k: v["version"] for k, v in models.items()}),
                  "budget_epsilon_spent": used, "budget_delta_spent": used_delta,
                  "budget_epsilon_left": ledger.budget.epsilon - used, "budget_delta_left": ledger.budget.delta - used_delta,
                  "data_fingerprint": fingerprint, "train_examples": len(texts),
                  "ledger": MetadataValue.md(_ledger_table(ledger, fingerprint))},
    )


def _ledger_table(ledger: PrivacyLedger, fingerprint: str) -> str:
    rows = "".join(f"| {s.purpose} | {s.epsilon:.3f} | {s.delta:.2g} | {'settled' if s.settled else 'reserved'} |\n"
                   for s in ledger.spends(fingerprint))
    return "| training | epsilon | delta | state |\n|---|---|---|---|\n" + rows


def _no_dp_reference(context, config: DpEmbedderConfig, intent_dataset: dict, base_encoder: dict, texts, labels,
                     fingerprint: str, mlflow: MlflowResource) -> dict[str, float]:
    """Retrieval of the same fine-tune without DP, for comparison only: trained in memory, scored, and
    dropped; only its metrics are kept (a model trained on private data without DP never reaches a disk)."""
    import mlflow as mlf

    key = stable_hash(["no_dp_reference", fingerprint, base_encoder["checksum"], _train_cfg(config, None).__dict__,
                       intent_dataset["content_sha256"], config.pairs_per_intent])
    run_id = mlflow.find_finished_run(EXPERIMENT, {CACHE_TAG: key})
    if run_id is not None:
        return mlflow.load_logged_dict(run_id, "retrieval.json")
    context.log.info("training the non-private reference in memory (never saved)")
    out = train_embedder(base_encoder["path"], texts, labels, None, _train_cfg(config, None))
    metrics = retrieval_metrics(_encode(out.model), _heldout_pairs(intent_dataset, config.pairs_per_intent))
    tags = {CACHE_TAG: key, "convbot.kind": "no_dp_reference", "convbot.data_version": intent_dataset["data_version"]}
    with mlflow.start_run(EXPERIMENT, f"no-dp-reference-{intent_dataset['data_version'][:8]}", tags):
        mlf.log_params({"dp": False, "kept": "metrics only", "data_fingerprint": fingerprint})
        mlf.log_metrics({f"heldout_{k}": float(v) for k, v in metrics.items()})
        mlf.log_dict(metrics, "retrieval.json")
    return metrics


@asset(group_name=GROUP, compute_kind="sentence-transformers", code_version="2")
def embedder_eval(context: AssetExecutionContext, dp_embedder: dict, intent_dataset: dict,
                  mlflow: MlflowResource) -> MaterializeResult:
    """Recall@1, recall@5 and MRR on held-out paraphrase pairs: base, non-DP reference, DP fine-tune per epsilon."""
    import mlflow as mlf

    pairs = _heldout_pairs(intent_dataset, dp_embedder["pairs_per_intent"])
    rows = {"base": retrieval_metrics(_encode(base_embedder(dp_embedder["base_encoder"])), pairs),
            "no_dp": dp_embedder["no_dp_metrics"]}
    rows.update({f"dp_eps{eps}": retrieval_metrics(_encode(load_embedder(m["model_dir"])), pairs)
                 for eps, m in dp_embedder["models"].items()})
    for eps, m in dp_embedder["models"].items():
        with mlflow.resume_run(m["run_id"]):
            mlf.log_metrics({f"heldout_{k}": float(v) for k, v in rows[f"dp_eps{eps}"].items()})
            mlf.log_metrics({f"heldout_no_dp_{k}": float(v) for k, v in rows["no_dp"].items()})
            mlf.log_metrics({f"heldout_base_{k}": float(v) for k, v in rows["base"].items()})
    with tempfile.TemporaryDirectory() as tmp:
        chart = model_comparison_png(rows, [("recall_at_1", "recall@1"), ("recall_at_5", "recall@5"), ("mrr", "MRR")],
                                     Path(tmp) / "retrieval.png", "Paraphrase retrieval")
        chart_meta = image(chart, "retrieval")
    table = "| model | recall@1 | recall@5 | MRR |\n|---|---|---|---|\n" + "".join(
        f"| {n} | {r['recall_at_1']:.3f} | {r['recall_at_5']:.3f} | {r['mrr']:.3f} |\n" for n, r in rows.items())
    return MaterializeResult(
        value={"metrics": rows, "pairs": len(pairs)},
        metadata={"comparison": MetadataValue.md(table), "chart": chart_meta, "pairs": len(pairs),
                  **{f"{n}_mrr": float(r["mrr"]) for n, r in rows.items()}},
    )
