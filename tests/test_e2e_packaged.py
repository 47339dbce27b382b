"""End-to-end with the real packaged models on small slices of real data (CLINC150)."""

import json

import pytest

from evals.intent_metrics import intent_report
from training.base_models import resolve_encoder, resolve_llm
from training.intent_dataset import SplitConfig, split_frame, write_dataset
from training.intent_predictor import IntentPredictor
from training.intent_trainer import IntentTrainConfig, train_intent_model
from training.paraphrase import LocalLLMParaphraser
from training.real_data import import_labeled

pytestmark = pytest.mark.e2e


def test_packaged_minilm_learns_a_clinc150_slice(tmp_path, clinc_path):
    intents = json.loads((clinc_path.parent / "domains.json").read_text())["banking"]
    train = import_labeled(clinc_path, "clinc150", splits=["train"], labels=intents)
    test = import_labeled(clinc_path, "clinc150", splits=["test"], labels=intents)
    assert len(train.frame) == 100 * len(intents) and len(test.frame) == 30 * len(intents)
    # a small slice of the official train split; the official test split is only scored
    small = train.frame.groupby("intent").head(25)
    splits = split_frame(small, SplitConfig(validation_fraction=0.2, test_fraction=0.0))
    data = write_dataset({"train": splits["train"], "validation": splits["validation"]}, sorted(intents),
                         tmp_path / "data", {})
    out = train_intent_model(data, resolve_encoder().path, tmp_path / "work",
                             IntentTrainConfig(overrides={"num_train_epochs": 8, "learning_rate": 2e-4}))
    predictor = IntentPredictor.from_pretrained(out.model_dir)
    report = intent_report(test.frame["intent"].tolist(), predictor.predict_proba(test.frame["text"].tolist()),
                           predictor.labels)
    assert report.metrics["accuracy"] > 0.85, report.metrics


def test_packaged_smollm2_imports_once_and_paraphrases(tmp_path):
    first = resolve_llm(store_dir=tmp_path)
    again = resolve_llm(store_dir=tmp_path)
    assert first == again and len(first.checksum) == 64
    cfg = json.loads((tmp_path.glob("smollm2-*/config.json").__next__()).read_text())
    assert "quantization_config" not in cfg
    out = LocalLLMParaphraser(first.path, max_new_tokens=16).paraphrase(["book a flight to Paris tomorrow"], n=2)
    assert len(out[0]) == 2 and any(len(t.split()) >= 2 for t in out[0])
