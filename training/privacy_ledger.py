"""The privacy budget ledger: what every DP training has spent on each dataset, kept as its own record.

- Keyed by the data's fingerprint, the md5 that DVC records for the file the training reads, not by a
  name a run could change.
- The budget (epsilon and delta) is project config (`configs/privacy.yaml`), not run config.
- A training reserves its target (epsilon, delta) before it starts and settles with what the
  accountant reports after it ends. A reservation that is never settled (a crash, a kill) stays
  counted at its target; a settlement above the reservation is refused and the target stays counted.
- Spending composes by basic composition: k trainings on the same data with (eps_i, delta_i) are
  together (sum eps_i, sum delta_i)-DP, a safe upper bound.
- Entries are runs of one MLflow experiment (`training.ledger`): shared with the team's tracking
  server, never deleted by this code, and counted even when deleted in the UI.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ConvbotError
from .ledger import MlflowLedger, Record

PRIVACY_EXPERIMENT = "convbot-privacy-ledger"
BUDGET_FILE = Path(__file__).resolve().parents[1] / "configs" / "privacy.yaml"
# guarantee tags on registered DP model versions (informational: the ledger is the record that counts)
TAGS = {"epsilon": "convbot.privacy.epsilon", "delta": "convbot.privacy.delta",
        "data_version": "convbot.privacy.data_version", "fingerprint": "convbot.privacy.data_fingerprint",
        "ledger_entry": "convbot.privacy.ledger_entry"}


class PrivacyBudgetExceeded(ConvbotError):
    """A DP training would spend more on a dataset than its budget allows."""


@dataclass(frozen=True)
class PrivacyBudget:
    epsilon: float
    delta: float


def load_budget(path: str | os.PathLike = BUDGET_FILE) -> PrivacyBudget:
    raw = (yaml.safe_load(Path(path).read_text()) or {}).get("budget") or {}
    budget = PrivacyBudget(float(raw["epsilon"]), float(raw["delta"]))
    if budget.epsilon <= 0 or not 0 <= budget.delta < 1:
        raise ValueError(f"{path}: budget needs epsilon > 0 and 0 <= delta < 1, got {budget}")
    return budget


def data_fingerprint(path: str | os.PathLike) -> str:
    """The md5 of a file's content: the hash DVC records for it (and stores it under in the cache)."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Spend:
    entry: str
    purpose: str
    epsilon: float  # what counts: the settled spend, or the reservation while it is open or failed
    delta: float
    settled: bool


class PrivacyLedger:
    def __init__(self, client, budget: PrivacyBudget | None = None):
        self.ledger = MlflowLedger(client, PRIVACY_EXPERIMENT)
        self.budget = budget or load_budget()

    def spends(self, fingerprint: str) -> list[Spend]:
        out = []
        for r in self.ledger.records(fingerprint=fingerprint):
            reserved_eps, reserved_delta = float(r.fields["epsilon"]), float(r.fields["delta"])
            outcome = r.outcome if r.status == "FINISHED" else {}
            if "epsilon_spent" in outcome and float(outcome["epsilon_spent"]) <= reserved_eps + 1e-9:
                out.append(Spend(r.id, r.fields.get("purpose", ""), float(outcome["epsilon_spent"]),
                                 float(outcome["delta"]), True))
            else:
                out.append(Spend(r.id, r.fields.get("purpose", ""), reserved_eps, reserved_delta, False))
        return out

    def spent(self, fingerprint: str) -> tuple[float, float]:
        spends = self.spends(fingerprint)
        return sum(s.epsilon for s in spends), sum(s.delta for s in spends)

    def left(self, fingerprint: str) -> tuple[float, float]:
        eps, delta = self.spent(fingerprint)
        return self.budget.epsilon - eps, self.budget.delta - delta

    def check(self, fingerprint: str, epsilon: float, delta: float) -> None:
        """Raise when (epsilon, delta) more would take the dataset past its budget."""
        eps_left, delta_left = self.left(fingerprint)
        if epsilon > eps_left + 1e-9 or delta > delta_left + 1e-15:
            spends = ", ".join(f"{s.purpose} (eps {s.epsilon:g}{'' if s.settled else ', reserved'})"
                               for s in self.spends(fingerprint))
            raise PrivacyBudgetExceeded(
                f"privacy budget of dataset {fingerprint[:12]} would be exceeded: it has spent "
                f"epsilon {self.budget.epsilon - eps_left:g} of {self.budget.epsilon:g} and delta "
                f"{self.budget.delta - delta_left:.3g} of {self.budget.delta:.3g} ({spends or 'nothing yet'}); "
                f"epsilon {max(eps_left, 0.0):g} is left and this run needs {epsilon:g} (delta {delta:.3g}). "
                "Lower the target epsilon, or raise the budget in configs/privacy.yaml only if the data owner agrees.")

    def reserve(self, fingerprint: str, epsilon: float, delta: float, purpose: str, data_version: str = "") -> Record:
        """Record the spend before training; raises PrivacyBudgetExceeded when it does not fit."""
        if epsilon <= 0 or delta < 0:
            raise ValueError(f"a reservation needs epsilon > 0 and delta >= 0, got {epsilon}, {delta}")
        self.check(fingerprint, epsilon, delta)
        return self.ledger.append({"fingerprint": fingerprint, "epsilon": float(epsilon), "delta": float(delta),
                                   "purpose": purpose, "data_version": data_version,
                                   "budget_epsilon": self.budget.epsilon, "budget_delta": self.budget.delta},
                                  run_name=f"reserve eps {epsilon:g}: {purpose}", open_=True)

    def settle(self, reservation: Record, epsilon_spent: float, delta: float) -> None:
        """Close a reservation with what the accountant reports; more than reserved is refused."""
        reserved = float(reservation.fields["epsilon"])
        if epsilon_spent > reserved + 1e-9 or delta > float(reservation.fields["delta"]) + 1e-15:
            self.ledger.close(reservation, {"refused_spend": epsilon_spent}, status="FAILED")
            raise PrivacyBudgetExceeded(f"spent epsilon {epsilon_spent:g} is above the {reserved:g} reserved: the "
                                        "model is not released, the reservation stays counted")
        self.ledger.close(reservation, {"epsilon_spent": float(epsilon_spent), "delta": float(delta)})
