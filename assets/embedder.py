"""Embedder assets: the retriever's sentence encoder fine-tuned on user utterances under DP-SGD, and its evaluation."""

import json
import tempfile
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from evals.plots import model_comparison_png, utility_vs_epsilon_png
from evals.retrieval import PairTask, compare_encoders, metrics_from_ranks, paraphrase_task, retrieval_ranks
from pipelines.resources import MlflowResource, ModelStoreResource
from training.dp_embedder import EMBEDDER_INFO, EmbedderTrainConfig, base_embedder, load_embedder, train_embedder
from training.fileio import stable_hash
from training.intent_dataset import load_split
from training.privacy_ledger import TAGS, PrivacyLedger, data_fingerprint
from training.variation import without_variants

from .gates import GateConfig, run_gate, warn_when_failed
from .metadata import image

GROUP = "embedder"
EXPERIMENT = "dp_embedder"
CACHE_TAG = "convbot.cache_key"
TASK_TAG = "convbot.retrieval_task"
_EMB = EmbedderTrainConfig()


class DpEmbedderConfig(Config):
    target_epsilons: list[float] = Field(default=[8.0], description="one DP fine-tune per target epsilon")
    target_delta: float = _EMB.target_delta
    max_grad_norm: float = Field(default=_EMB.max_grad_norm, description="per-example clipping norm")
    epochs: int = _EMB.epochs
    batch_size: int = Field(default=_EMB.batch_size, description="expected (logical) batch under Poisson sampling")
    physical_batch_size: int = Field(default=_EMB.physical_batch_size, description="rows per forward/backward pass")
    learning_rate: float = _EMB.learning_rate
    trainable_layers: int = Field(default=_EMB.trainable_layers, description="top encoder layers that train; -1 = all")
    pairs_per_intent: int = Field(default=10, description="held-out paraphrase pairs per intent (test split)")
    release_epsilon: float = Field(default=8.0, description="the target epsilon whose model embedder_gate judges for "
                                                          "release (one of target_epsilons; the others draw the curve)")
    registered_model_name: str = "convbot-dp-embedder"


def _train_cfg(config: DpEmbedderConfig, epsilon: float | None) -> EmbedderTrainConfig:
    return EmbedderTrainConfig(epochs=config.epochs, batch_size=config.batch_size,
                               physical_batch_size=config.physical_batch_size, learning_rate=config.learning_rate,
                               trainable_layers=config.trainable_layers, target_epsilon=epsilon,
                               target_delta=config.target_delta, max_grad_norm=config.max_grad_norm)


def _heldout_task(intent_dataset: dict, per_intent: int) -> PairTask:
    """Paraphrase pairs from the test split, each answer ranked among the test split's other intents (its
    out-of-scope rows among them, as candidates only)."""
    test = without_variants(load_split(intent_dataset["path"], "test"))
    return paraphrase_task(test["text"].tolist(), test["intent"].tolist(), per_intent)


def _encode(model):
    return lambda xs: model.encode(xs, normalize_embeddings=True)


@asset(group_name=GROUP, compute_kind="opacus", code_version="3")
def dp_embedder(context: AssetExecutionContext, config: DpEmbedderConfig, intent_dataset: dict, base_encoder: dict,
                mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """Sentence encoder fine-tuned with DP-SGD at each target epsilon, every training reserved in the privacy ledger first."""
    import mlflow as mlf

    if config.release_epsilon not in config.target_epsilons:
        raise ValueError(f"dp_embedder config, field 'release_epsilon': {config.release_epsilon} is not one of "
                         f"target_epsilons {config.target_epsilons}")
    train_file = Path(intent_dataset["path"]) / "train.parquet"
    train = without_variants(load_split(intent_dataset["path"], "train"))
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
                mlf.set_tags({"convbot.model_version": str(mv.version), "convbot.model_uri": info.model_uri,
                              "convbot.guarantee": json.dumps(guarantee)})
        run = client.get_run(run_id)
        if not _version_exists(client, config.registered_model_name, run.data.tags["convbot.model_version"]):
            # deleted from the registry by hand: register the logged model again (nothing retrained or spent)
            mv = mlflow.activate().register_model(run.data.tags["convbot.model_uri"], config.registered_model_name,
                                                  tags=json.loads(run.data.tags["convbot.guarantee"]))
            client.set_tag(run_id, "convbot.model_version", str(mv.version))
            run = client.get_run(run_id)
        models[str(eps)] = {"run_id": run_id, "model_dir": str(work / "model"), "version": run.data.tags["convbot.model_version"],
                            "epsilon_spent": run.data.metrics["epsilon_spent"]}

    reference = _no_dp_reference(context, config, intent_dataset, base_encoder, texts, labels, fingerprint, mlflow)
    used, used_delta = ledger.spent(fingerprint)
    return MaterializeResult(
        value={"models": models, "no_dp_metrics": reference, "base_encoder": base_encoder["path"],
               "pairs_per_intent": config.pairs_per_intent, "release_epsilon": str(config.release_epsilon),
               "model_name": config.registered_model_name,
               "data_fingerprint": fingerprint, "data_version": intent_dataset["data_version"]},
        metadata={"epsilons_spent": MetadataValue.json({k: v["epsilon_spent"] for k, v in models.items()}),
                  "registered_versions": MetadataValue.json({k: v["version"] for k, v in models.items()}),
                  "budget_epsilon_spent": used, "budget_delta_spent": used_delta,
                  "budget_epsilon_left": ledger.budget.epsilon - used, "budget_delta_left": ledger.budget.delta - used_delta,
                  "data_fingerprint": fingerprint, "train_examples": len(texts),
                  "ledger": MetadataValue.md(_ledger_table(ledger, fingerprint))},
    )


def _version_exists(client, name: str, version: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, version)
        return True
    except MlflowException:
        return False


def _ledger_table(ledger: PrivacyLedger, fingerprint: str) -> str:
    rows = "".join(f"| {s.purpose} | {s.epsilon:.3f} | {s.delta:.2g} | {'settled' if s.settled else 'reserved'} |\n"
                   for s in ledger.spends(fingerprint))
    return "| training | epsilon | delta | state |\n|---|---|---|---|\n" + rows


def _no_dp_reference(context, config: DpEmbedderConfig, intent_dataset: dict, base_encoder: dict, texts, labels,
                     fingerprint: str, mlflow: MlflowResource) -> dict[str, float]:
    """Retrieval of the same fine-tune without DP, for comparison only: trained in memory, scored, and
    dropped; only its metrics are kept (a model trained on private data without DP never reaches a disk)."""
    import mlflow as mlf

    # the ranks are kept, so a change in the pairs, their pool or how they are scored needs a new reference
    task = _heldout_task(intent_dataset, config.pairs_per_intent)
    key = stable_hash(["no_dp_reference", fingerprint, base_encoder["checksum"], _train_cfg(config, None).__dict__,
                       intent_dataset["content_sha256"], task.fingerprint()])
    run_id = mlflow.find_finished_run(EXPERIMENT, {CACHE_TAG: key})
    if run_id is not None:
        return mlflow.load_logged_dict(run_id, "retrieval.json")
    context.log.info("training the non-private reference in memory (never saved)")
    out = train_embedder(base_encoder["path"], texts, labels, None, _train_cfg(config, None))
    ranks = retrieval_ranks(_encode(out.model), task).tolist()
    metrics = metrics_from_ranks(ranks)
    tags = {CACHE_TAG: key, "convbot.kind": "no_dp_reference", "convbot.data_version": intent_dataset["data_version"]}
    with mlflow.start_run(EXPERIMENT, f"no-dp-reference-{intent_dataset['data_version'][:8]}", tags):
        mlf.log_params({"dp": False, "kept": "metrics only", "data_fingerprint": fingerprint})
        mlf.log_metrics({f"heldout_{k}": float(v) for k, v in metrics.items()})
        mlf.log_dict({**metrics, "ranks": ranks, "task": task.fingerprint()}, "retrieval.json")
    return {**metrics, "ranks": ranks, "task": task.fingerprint()}


@asset(group_name=GROUP, compute_kind="sentence-transformers", code_version="4")
def embedder_eval(context: AssetExecutionContext, dp_embedder: dict, intent_dataset: dict,
                  mlflow: MlflowResource) -> MaterializeResult:
    """Recall@1/@5 and MRR on held-out paraphrase pairs for base, non-DP reference and each epsilon; paired gains."""
    import mlflow as mlf

    pairs = _heldout_task(intent_dataset, dp_embedder["pairs_per_intent"])
    if dp_embedder["no_dp_metrics"].get("task") != pairs.fingerprint():
        raise ValueError("dp_embedder's non-private reference was scored on other pairs than intent_dataset's test "
                         "split gives now (or by an older retrieval task); materialize dp_embedder again (its DP "
                         "models are reused: nothing is retrained or spent)")
    ranks = {"base": retrieval_ranks(_encode(base_embedder(dp_embedder["base_encoder"])), pairs),
             "no_dp": dp_embedder["no_dp_metrics"]["ranks"]}
    ranks.update({f"dp_eps{eps}": retrieval_ranks(_encode(load_embedder(m["model_dir"])), pairs)
                  for eps, m in dp_embedder["models"].items()})
    rows = {name: metrics_from_ranks(r) for name, r in ranks.items()}
    comparisons = {eps: compare_encoders(ranks[f"dp_eps{eps}"], ranks["base"], ranks["no_dp"])
                   for eps in dp_embedder["models"]}
    with tempfile.TemporaryDirectory() as tmp:
        chart = model_comparison_png(rows, [("recall_at_1", "recall@1"), ("recall_at_5", "recall@5"), ("mrr", "MRR")],
                                     Path(tmp) / "retrieval.png", "Paraphrase retrieval")
        curve = utility_vs_epsilon_png({float(eps): rows[f"dp_eps{eps}"] for eps in dp_embedder["models"]},
                                       {"base": rows["base"], "no DP": rows["no_dp"]},
                                       [("recall_at_5", "recall@5"), ("mrr", "MRR")], Path(tmp) / "utility_vs_epsilon.png",
                                       "Retrieval against epsilon")
        for eps, m in dp_embedder["models"].items():
            with mlflow.resume_run(m["run_id"]):
                mlf.log_metrics({f"heldout_{k}": float(v) for k, v in rows[f"dp_eps{eps}"].items()})
                mlf.log_metrics({f"heldout_no_dp_{k}": float(v) for k, v in rows["no_dp"].items()})
                mlf.log_metrics({f"heldout_base_{k}": float(v) for k, v in rows["base"].items()})
                mlf.log_metrics({f"heldout_{k}": float(v) for k, v in comparisons[eps].items()})
                mlf.log_metric("heldout_pool", len(pairs.pool))
                mlf.set_tag(TASK_TAG, pairs.fingerprint())  # which task the heldout_* metrics of this run measure
                mlf.log_artifact(str(chart), "plots")
                mlf.log_artifact(str(curve), "plots")
        chart_meta, curve_meta = image(chart, "retrieval"), image(curve, "utility against epsilon")
    table = "| model | recall@1 | recall@5 | MRR |\n|---|---|---|---|\n" + "".join(
        f"| {n} | {r['recall_at_1']:.3f} | {r['recall_at_5']:.3f} | {r['mrr']:.3f} |\n" for n, r in rows.items()) + (
        f"\n{len(pairs)} held-out pairs of two utterances of one intent; each answer is ranked among the "
        f"{len(pairs.pool)} held-out utterances less those of its own intent.\n")
    release = dp_embedder["release_epsilon"]
    candidate = dp_embedder["models"][release]
    return MaterializeResult(
        value={"metrics": rows, "pairs": len(pairs), "comparisons": comparisons, "release_epsilon": release,
               "pool": len(pairs.pool),
               "candidate": {"model_name": dp_embedder["model_name"], "version": candidate["version"],
                             "epsilon_spent": candidate["epsilon_spent"]},
               "gate_metrics": {**comparisons[release], **{f"{k}": v for k, v in rows[f"dp_eps{release}"].items()},
                                "epsilon_spent": candidate["epsilon_spent"]},
               "data_version": dp_embedder["data_version"]},
        metadata={"comparison": MetadataValue.md(table), "chart": chart_meta, "utility_vs_epsilon": curve_meta,
                  "pairs": len(pairs), "pool": len(pairs.pool),
                  **{f"{n}_recall_at_5": float(r["recall_at_5"]) for n, r in rows.items()},
                  **{f"eps{e}_{k}": float(v) for e, c in comparisons.items() for k, v in c.items()}},
    )


@asset_check(asset=embedder_eval, blocking=True,
             description="The DP encoder beats the base it started from on recall@5 (95% interval above zero) and stays "
                         "within 5 points of the non-DP fine-tune; only then is it `challenger` and in the bundle. When "
                         "it fails (a warning: the bot still ships) the bot retrieves with the base encoder.")
def embedder_gate(context: AssetCheckExecutionContext, config: GateConfig, embedder_eval: dict,
                  mlflow: MlflowResource) -> AssetCheckResult:
    candidate = embedder_eval["candidate"]
    result = run_gate(context, mlflow, "embedder_gate", config, [(candidate["model_name"], candidate["version"])],
                      embedder_eval["gate_metrics"], embedder_eval["data_version"])
    retrieval = (f"{candidate['model_name']} v{candidate['version']} (epsilon {candidate['epsilon_spent']:.2f})"
                 if result.passed else "the base encoder: the DP encoder did not pass embedder_gate")
    # a failed embedder gate degrades the bot (it retrieves with the base encoder) rather than stopping it; the DP
    # model gets no alias, and the bundle reads the failed verdict
    return warn_when_failed(result, bot_retrieves_with=retrieval)
