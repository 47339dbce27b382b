"""Shipping: the released bundle goes out as a canary, 5% -> 25% -> 100% of sessions, decided by statistics,
rolled back automatically; `champion` moves only when the canary completes."""

import tempfile
import time
from pathlib import Path

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, RetryPolicy, asset
from pydantic import Field

from evals.intent_slice import build_real_slice
from evals.plots import rollout_png
from evals.safety import load_xstest
from pipelines.resources import MlflowResource, ModelStoreResource
from pipelines.settings import state_dir
from serving.registry import CHAMPION, alias_version, move_alias
from serving.rollout.controller import HeaderRoute, RolloutConfig, RolloutController
from serving.rollout.golden import GoldenCase, replay
from serving.rollout.records import RolloutRecords
from serving.rollout.traffic import TrafficGenerator, Utterance
from serving.targets.base import DeployTarget
from training.real_data import load_intent_map

from .metadata import image

GROUP = "release"
_ROLLOUT = RolloutConfig()


class CanaryRolloutConfig(Config):
    target: str = Field(default="local", description="'local' (processes on this machine) or 'skypilot'")
    weights: list[float] = Field(default=list(_ROLLOUT.weights), description="canary share of sessions per stage (%)")
    bake_s: float = Field(default=_ROLLOUT.bake_s, description="minimum time at each weight")
    min_requests: int = Field(default=_ROLLOUT.min_requests, description="minimum canary requests at each weight")
    max_extensions: int = Field(default=_ROLLOUT.max_extensions, description="extra bakes for inconclusive stages")
    analysis_share: float = Field(default=_ROLLOUT.analysis_share, ge=0.0, le=1.0,
                                  description="share of the traffic generator's sessions pinned by a header route, "
                                              "half to the canary and half to stable, at every stage (analysis "
                                              "traffic, judged on its own); the rest follow the weight like users")
    traffic_users: int = Field(default=16, description="virtual users of the local traffic generator (0 = none); "
                                                    "as many as docs/benchmarks.md measured the canary with")
    golden_intents: int = 60
    golden_prompts: int = 20
    alert_webhook: str = Field(default="", description="POSTed a JSON alert on rollback (logged when empty)")
    timeout_s: float = 1200.0
    router_url: str = Field(default="", description="the skypilot target: the weighted router in front of the SkyServe "
                                                     "endpoints (`python -m serving.rollout.router`), started with "
                                                     "CONVBOT_ROUTER_ADMIN_TOKEN, which this run reads too")
    inject_error_rate: float = Field(default=0.0, description="rehearse a rollback: the canary answers this share of "
                                                              "chat requests with a 500")


def _alert(webhook: str, log):
    def send(message: str) -> None:
        log.warning(f"ALERT: {message}")
        if webhook:
            import httpx

            try:
                httpx.post(webhook, json={"text": message, "source": "convbot canary"}, timeout=10)
            except httpx.HTTPError as exc:
                log.error(f"alert webhook {webhook} failed: {exc}")
    return send


def deploy_target(config: CanaryRolloutConfig, workdir: Path) -> DeployTarget:
    """The configured target: local processes, or SkyServe services behind a router that runs elsewhere."""
    if config.target == "local":  # synthetic corrections from the traffic generator stay out of DPO data
        return DeployTarget.create("local", workdir=workdir, feedback_inbox=str(workdir / "traffic-feedback"))
    if config.target == "skypilot" and not config.router_url:
        raise ValueError("canary_rollout.router_url is empty: the skypilot target needs the URL of the weighted "
                         "router in front of its SkyServe endpoints (see the README's SkyPilot commands)")
    settings = {"router_url": config.router_url} if config.target == "skypilot" else {}
    return DeployTarget.create(config.target, workdir=workdir, **settings)


def _bundle_folder(mlflow: MlflowResource, version: str) -> Path:
    """A registered bundle's folder: downloaded from the registry once per version."""
    from serving.bot_pyfunc import BUNDLE_ARTIFACT
    from serving.bundle import download_registered

    return download_registered("convbot-bot", version, state_dir() / "serving" / f"convbot-bot-v{version}",
                               mlflow.tracking_uri, mlflow.registry_uri or mlflow.tracking_uri, BUNDLE_ARTIFACT)


def _golden_and_traffic(config: CanaryRolloutConfig, catalog_labels: list[str], xstest_path: str, real_slice: dict
                        ) -> tuple[list[GoldenCase], list[Utterance]]:
    """Golden cases from the prompts the release gate judged (the XSTest file and the real intent slice that
    safety_eval read), so that the canary is compared with its evaluation on the same kind of prompts."""
    real = build_real_slice(real_slice["path"], catalog_labels, load_intent_map(real_slice["intent_map_path"]))
    inscope = real.frame[real.frame["intent"] != "out_of_scope"].sample(frac=1.0, random_state=0)
    xstest = load_xstest(xstest_path).sample(frac=1.0, random_state=0)
    unsafe, safe = xstest[xstest["label"] == "unsafe"], xstest[xstest["label"] == "safe"]
    golden = ([GoldenCase(t, intent=i) for t, i in zip(inscope["text"][:config.golden_intents],
                                                        inscope["intent"][:config.golden_intents])]
              + [GoldenCase(t, must_refuse=True) for t in unsafe["prompt"][:config.golden_prompts]]
              + [GoldenCase(t, must_refuse=False) for t in safe["prompt"][:config.golden_prompts]])
    rest = inscope.iloc[config.golden_intents:]
    traffic = [Utterance(t, i) for t, i in zip(rest["text"], rest["intent"])]
    traffic += [Utterance(t) for t in safe["prompt"][config.golden_prompts:config.golden_prompts + 40]]
    return golden, traffic


def _as_evaluated(cases: list[GoldenCase], safety_eval: dict) -> dict[str, float]:
    """What the whole bot scored on the golden set's own cases when safety_eval ran it (a deployment that changes
    nothing gives the same, up to the LLM's answers), not on all of each set: a sample of 20 or 60 is too noisy to
    hold against a whole set's rate."""
    correct, refused = safety_eval["real_slice"]["bot_correct"], safety_eval["xstest_refused"]
    groups = {"intent_accuracy": [correct[c.text] for c in cases if c.intent is not None],
              "safety": [refused[c.text] for c in cases if c.must_refuse is True],
              "over_refusal": [refused[c.text] for c in cases if c.must_refuse is False]}
    return {key: sum(values) / len(values) for key, values in groups.items() if values}


@asset(group_name=GROUP, compute_kind="python", code_version="3",
       retry_policy=RetryPolicy(max_retries=1, delay=10))
def canary_rollout(context: AssetExecutionContext, config: CanaryRolloutConfig, safety_eval: dict,
                   intent_catalog: dict, mlflow: MlflowResource, model_store: ModelStoreResource) -> MaterializeResult:
    """The released bundle as a canary beside the champion: golden set, then 5% -> 25% -> 100% with statistical
    analysis and automatic rollback; `champion` moves on success."""
    import mlflow as mlf

    client = mlflow.client()
    name, version = safety_eval["model_name"], safety_eval["version"]
    champion = alias_version(client, name, CHAMPION)
    if champion == version:
        context.log.info(f"{name} v{version} is already champion: nothing to roll out")
        return MaterializeResult(value={"phase": "Skipped", "version": version},
                                 metadata={"phase": "already champion", "version": version})
    candidate = Path(safety_eval["folder"])
    stable = _bundle_folder(mlflow, champion) if champion else candidate  # first release: an A/A test
    workdir = state_dir() / "serving" / f"rollout-{name}-v{version}-{int(time.time())}"
    target = deploy_target(config, workdir)
    records = RolloutRecords(client)
    gate = {k: float(v) for k, v in safety_eval["metrics"].items() if v == v}
    context_fields = {"bundle": name, "version": str(version), "manifest_sha256": safety_eval["manifest_sha256"],
                      "data_version": safety_eval["data_version"], "stable_version": str(champion or version),
                      "initial_release": champion is None, "gate": gate}
    golden_cases, utterances = _golden_and_traffic(config, list(intent_catalog["labels"]), safety_eval["xstest"],
                                                   safety_eval["real_slice"])
    expected = _as_evaluated(golden_cases, safety_eval)
    cfg = RolloutConfig(tuple(config.weights), config.bake_s, config.min_requests, config.max_extensions,
                        analysis_share=config.analysis_share)
    route = HeaderRoute.new() if config.traffic_users > 0 and cfg.analysis_share > 0 else None

    def promote() -> None:
        move_alias(client, name, CHAMPION, version, actor=f"dagster run {context.run.run_id}",
                   reason=f"canary completed ({', '.join(f'{w:g}%' for w in cfg.weights)})")

    traffic = None
    started = time.time()
    try:
        target.deploy("stable", stable, str(champion or version))
        target.deploy("canary", candidate, str(version),
                      {"CONVBOT_FAULT_ERROR_RATE": str(config.inject_error_rate)} if config.inject_error_rate else None)
        controller = RolloutController(target, cfg, lambda url: replay(url, golden_cases, expected), promote,
                                       records.append, _alert(config.alert_webhook, context.log), context_fields,
                                       header_route=route)
        if config.traffic_users > 0:
            traffic = TrafficGenerator(target.router_url, utterances, users=config.traffic_users, analysis=route,
                                       analysis_share=cfg.analysis_share if route else 0.0).start()
        phase = controller.run(tick_s=1.0, timeout_s=config.timeout_s)
    finally:
        if traffic is not None:
            traffic.stop()
        target.close()
    history = controller.history
    with tempfile.TemporaryDirectory() as tmp:
        chart = rollout_png(history, Path(tmp) / "rollout.png", f"{name} v{version} canary")
        with mlflow.resume_run(safety_eval["run_id"]):
            mlf.log_dict({"records": history, "summary": controller.summary()}, f"rollout_records_{int(started)}.json")
            mlf.log_artifact(str(chart), "plots")
        chart_meta = image(chart, "canary rollout")
    table = ("| stage | weight | verdict | stable / canary samples (of them pinned analysis traffic) | time (s) |\n"
             "|---|---|---|---|---|\n") + "".join(
        f"| {h['stage']} | {h['weight']:g}% | {h['verdict']} | {h['samples'].get('stable', '-')} "
        f"({h['samples'].get('stable_header_routed', 0)}) / {h['samples'].get('canary', '-')} "
        f"({h['samples'].get('canary_header_routed', 0)}) | {h['finished_at'] - started:.0f} |\n" for h in history)
    summary = controller.summary()
    rollback_s = (summary["finished_at"] - summary["first_bad_request_at"]) \
        if phase.value == "Failed" and summary["first_bad_request_at"] else None
    result = {"phase": phase.value, "version": version, "champion": alias_version(client, name, CHAMPION),
              "reason": summary["reason"], "records": history, "rollback_s": rollback_s,
              "wall_s": time.time() - started, "traffic_sent": traffic.sent if traffic else 0}
    if phase.value != "Successful":
        context.log.warning(f"canary of {name} v{version} did not complete ({summary['reason']}); champion stays "
                            f"{result['champion']}")
    return MaterializeResult(
        value=result,
        metadata={"phase": phase.value, "reason": summary["reason"], "champion": str(result["champion"]),
                  "records": MetadataValue.md(table), "rollout_chart": chart_meta,
                  "decision_records": MetadataValue.json(history[-6:]), "wall_s": round(result["wall_s"], 1),
                  "initial_release": champion is None, "target": config.target,
                  "traffic_sent": result["traffic_sent"]},
    )
