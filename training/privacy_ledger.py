"""The privacy budget ledger: what every DP run has spent on each source of user data.

Each DP model version in the MLflow registry carries its guarantee as tags (`TAGS`): epsilon, delta,
the data version and the data source it was trained on. Spending composes: k runs on the same data
with (eps_i, delta_i) are together (sum eps_i, sum delta_i)-DP (basic composition, a safe upper
bound). A run whose epsilon would take the source's total past the budget is refused before it
trains, with what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConvbotError

TAGS = {"epsilon": "convbot.privacy.epsilon", "delta": "convbot.privacy.delta",
        "data_version": "convbot.privacy.data_version", "data_source": "convbot.privacy.data_source"}


class PrivacyBudgetExceeded(ConvbotError):
    """A DP run would spend more on a data source than its budget allows."""


@dataclass(frozen=True)
class LedgerEntry:
    model: str
    version: str
    epsilon: float
    delta: float
    data_version: str
    data_source: str


def read_ledger(client, model_names: list[str]) -> list[LedgerEntry]:
    """Entries from the registry: every version of `model_names` tagged with a privacy guarantee."""
    entries = []
    for name in model_names:
        for v in client.search_model_versions(f"name = '{name}'"):
            tags = v.tags or {}
            if TAGS["epsilon"] in tags:
                entries.append(LedgerEntry(name, str(v.version), float(tags[TAGS["epsilon"]]),
                                           float(tags[TAGS["delta"]]), tags.get(TAGS["data_version"], ""),
                                           tags.get(TAGS["data_source"], "")))
    return sorted(entries, key=lambda e: (e.model, int(e.version)))


def spent(entries: list[LedgerEntry], data_source: str) -> tuple[float, float]:
    on_source = [e for e in entries if e.data_source == data_source]
    return sum(e.epsilon for e in on_source), sum(e.delta for e in on_source)


def check_budget(entries: list[LedgerEntry], data_source: str, epsilon: float, budget: float) -> float:
    """Epsilon left on `data_source` after a run spending `epsilon`; raises when it would go negative."""
    used, _ = spent(entries, data_source)
    left = budget - used
    if epsilon > left + 1e-9:
        runs = ", ".join(f"{e.model} v{e.version} (eps {e.epsilon:g})" for e in entries if e.data_source == data_source)
        raise PrivacyBudgetExceeded(
            f"privacy budget for '{data_source}' would be exceeded: epsilon {used:g} of {budget:g} is spent "
            f"({runs}); {max(left, 0.0):g} is left and this run needs {epsilon:g}. Lower target_epsilon to at most "
            f"{max(left, 0.0):g}, or raise the budget only if the data owner agrees.")
    return left - epsilon
