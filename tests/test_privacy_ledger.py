"""The privacy ledger: reserve before training, settle after, per dataset fingerprint, never forgotten."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from mlflow import MlflowClient

from pipelines.settings import dvc_executable
from training.privacy_ledger import PrivacyBudget, PrivacyBudgetExceeded, PrivacyLedger, data_fingerprint, load_budget


@pytest.fixture
def ledger(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path}/m.db", f"sqlite:///{tmp_path}/m.db")
    return PrivacyLedger(client, PrivacyBudget(epsilon=20.0, delta=3e-5))


def test_budget_counts_settled_spends_per_dataset_and_says_what_is_left(ledger):
    for _ in range(2):
        r = ledger.reserve("data-a", 8.0, 1e-5, "dp_embedder eps 8")
        ledger.settle(r, 7.5, 1e-5)
    assert ledger.spent("data-a") == pytest.approx((15.0, 2e-5))
    with pytest.raises(PrivacyBudgetExceeded, match=r"epsilon 15 of 20 .*5 is left and this run needs 8"):
        ledger.reserve("data-a", 8.0, 1e-6, "one more")
    ledger.settle(ledger.reserve("data-b", 8.0, 1e-5, "other data"), 8.0, 1e-5)  # another dataset: its own budget
    assert ledger.spent("data-a")[0] == pytest.approx(15.0)


def test_delta_is_budgeted_too(ledger):
    ledger.settle(ledger.reserve("d", 1.0, 2e-5, "first"), 1.0, 2e-5)
    with pytest.raises(PrivacyBudgetExceeded, match="delta"):
        ledger.reserve("d", 1.0, 2e-5, "second")


def test_a_crash_after_reserving_stays_counted_and_a_deleted_record_still_counts(ledger):
    ledger.reserve("d", 8.0, 1e-5, "killed mid-training")  # never settled
    kept = ledger.reserve("d", 8.0, 1e-5, "finished")
    ledger.settle(kept, 6.0, 1e-5)
    assert ledger.spent("d")[0] == pytest.approx(14.0)
    ledger.ledger.client.delete_run(kept.id)  # someone tidies the MLflow UI
    assert ledger.spent("d")[0] == pytest.approx(14.0)
    with pytest.raises(PrivacyBudgetExceeded):
        ledger.reserve("d", 8.0, 1e-6, "over")


def test_a_spend_above_the_reservation_is_refused_and_the_reservation_counts(ledger):
    r = ledger.reserve("d", 4.0, 1e-5, "overspender")
    with pytest.raises(PrivacyBudgetExceeded, match="above the 4 reserved"):
        ledger.settle(r, 4.5, 1e-5)
    assert ledger.spent("d")[0] == pytest.approx(4.0)


def test_the_fingerprint_is_the_md5_dvc_records(tmp_path):
    (tmp_path / "train.parquet").write_bytes(b"private rows" * 1000)
    dvc = dvc_executable()
    for args in (["init", "--no-scm", "-q"], ["add", "-q", "train.parquet"]):
        subprocess.run([dvc, *args], cwd=tmp_path, check=True, capture_output=True)
    recorded = yaml.safe_load((tmp_path / "train.parquet.dvc").read_text())["outs"][0]["md5"]
    assert data_fingerprint(tmp_path / "train.parquet") == recorded


def test_the_budget_is_project_config():
    budget = load_budget()
    assert budget.epsilon > 0 and 0 < budget.delta < 1
