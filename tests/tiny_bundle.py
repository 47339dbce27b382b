"""A serving bundle of tiny models, built the way the pipeline builds one (real training, real int8, real
manifest), for runtime, HTTP and rollout tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]

# a handful of unsafe and safe prompts, written for this fixture only (never evaluation data)
_UNSAFE = [f"{f.format(v=v)} {t}" for v in ("hurt", "poison", "attack", "stab") for f in ("how do i {v}", "help me {v}")
           for t in ("my neighbour", "my boss", "a coworker", "my ex", "the cashier", "a stranger")]
_SAFE = [f"how do i {v} {t}" for v in ("book", "cancel", "find", "change") for t in
         ("a flight", "my hotel", "a table", "my alarm", "my plan", "a ticket")]

# the requests the runtime, HTTP and rollout tests send and whose intent they assert: a tiny encoder trained from
# scratch does not generalise to them reliably (two pytest workers, two trainings, once weather vs book_flight),
# so the fixture learns them word for word and refuses to build a bundle that gets one wrong
ASSERTED = {"what's the weather in Paris tomorrow": "weather", "set an alarm for 6:30 tomorrow": "set_alarm",
            "set an alarm for 7 am": "set_alarm", "hello": "greeting", "book a flight to Rome": "book_flight",
            "reset my password": "reset_password", "search the web for the history of jazz": "search_web",
            "search the web for jazz": "search_web"}


def _safety_frame(intents: pd.DataFrame) -> pd.DataFrame:
    """The fixture's unsafe prompts against safe ones: a few look-alikes and the assistant's own requests."""
    rows = [(t, "violence", "fixture", f"u{i % 6}") for i, t in enumerate(_UNSAFE)]
    rows += [(t, "safe", "fixture", f"s{i % 6}") for i, t in enumerate(_SAFE)]
    ordinary = intents.sample(n=min(80, len(intents)), random_state=0)
    rows += [(t, "safe", "intents", g) for t, g in zip(ordinary["text"], ordinary["group"])]
    return pd.DataFrame(rows, columns=["text", "intent", "source", "group"])


def build_tiny_bundle(out: Path, catalog: Path, tiny_encoder: Path, tiny_llm: Path, version: str = "1") -> Path:
    from serving.bundle import build_bundle
    from training.catalog import load_catalog
    from training.guard import train_guard
    from training.intent_dataset import SplitConfig, split_frame, write_dataset
    from training.intent_trainer import IntentTrainConfig, train_intent_model
    from training.quantize import quantize_int8
    from training.synthetic import SynthesisConfig, synthesize

    work = out.parent / f".{out.name}-work"
    cat = load_catalog(catalog)
    frame = synthesize(cat, SynthesisConfig(per_intent_templates=40, variants_per_intent=0)).frame
    asserted = pd.DataFrame([{**frame.iloc[0].to_dict(), "text": t, "intent": i, "group": f"asserted-{n}"}
                             for n, (t, i) in enumerate(ASSERTED.items())])
    frame = pd.concat([frame] + [asserted] * 4, ignore_index=True)
    # the runtime tests talk to the bot in the catalog's own words: the fixture trains on every template
    # (generalisation is measured by the pipeline's held-out splits, not here)
    data = write_dataset({"train": frame, "validation": frame.sample(frac=0.2, random_state=0),
                          "test": frame.sample(frac=0.2, random_state=1)}, cat.labels, work / "intents", {})
    fast = {"num_train_epochs": 30, "learning_rate": 3e-3, "per_device_train_batch_size": 16, "save_total_limit": 1,
            "logging_steps": 50}
    intent = train_intent_model(data, tiny_encoder, work / "intent", IntentTrainConfig(overrides=fast,
                                                                                        early_stopping_patience=5))
    safety = write_dataset(split_frame(_safety_frame(frame), SplitConfig(validation_fraction=0.25, test_fraction=0.1)),
                           ["safe", "violence"], work / "safety", {})
    guard = train_guard(safety, tiny_encoder, work / "guard", IntentTrainConfig(overrides=fast, early_stopping_patience=8),
                        min_recall=0.9)
    llm = quantize_int8(tiny_llm, work / "llm")
    # the project's runtime config, except that a tiny model's calibrated confidences are low: no clarifying
    # questions here (tests/test_bot_runtime.py tests them on their own)
    bot_cfg = yaml.safe_load((ROOT / "configs" / "bot" / "bot.yaml").read_text())
    bot_cfg["clarify_below"] = 0.0
    (work / "bot.yaml").write_text(yaml.safe_dump(bot_cfg))
    configs = {"bot.yaml": work / "bot.yaml", "brand.yaml": ROOT / "configs" / "bot" / "brand.yaml",
               "knowledge.yaml": ROOT / "configs" / "bot" / "knowledge.yaml", "catalog.yaml": catalog}
    meta = {"version": version, "versions": {"intent-classifier": "tiny", "guard": "tiny", "llm": "tiny"},
            "data_version": "tiny", "code_version": "test", "release_gate": None}
    bundle = build_bundle(out, {"intent": intent.model_dir, "guard": guard.train.model_dir, "llm": llm}, configs, meta)
    _check_learned(bundle)
    return bundle


def _check_learned(bundle: Path) -> None:
    """Through the bot as the tests load it (its encoder runtime, its guard), not the training-time model alone."""
    from serving.bot.bot import Bot

    bot = Bot(bundle, load_llm=False)
    try:
        wrong = {t: (turn.intent, turn.route) for t, want in ASSERTED.items()
                 if (turn := bot.route("fixture-check", t)).intent != want}
    finally:
        bot.close()
    if wrong:
        raise AssertionError(f"the tiny bundle's intent model misses the phrases the tests assert: {wrong}")
