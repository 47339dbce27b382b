"""Release gates: thresholds with project floors, and no significant regression against the champion.

A gate's thresholds live in project config (`configs/gates.yaml`), at or above the design's floors. A
run may make a threshold stricter; a looser one is refused unless an override reason is given, and
that reason is recorded with the verdict. The regression test is paired: both models are scored on
the same examples, and the challenger fails only when the 95% interval of the accuracy difference
lies wholly below -tolerance (a drop that noise cannot explain), not on a flat point drop.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import yaml

from training.errors import ConvbotError

GATES_FILE = Path(__file__).resolve().parents[1] / "configs" / "gates.yaml"
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


class GateConfigError(ConvbotError):
    """A gate configured below its floor without a recorded reason, or a gate that does not exist."""


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str  # one of > >= < <=
    value: float

    def __post_init__(self):
        if self.op not in _OPS:
            raise GateConfigError(f"threshold on '{self.metric}': unknown comparison '{self.op}'")

    def ok(self, observed: float) -> bool:
        return not math.isnan(observed) and _OPS[self.op](observed, self.value)

    def looser_than(self, floor: "Threshold") -> bool:
        """True when this threshold lets through a value the floor would stop."""
        higher_is_better = self.op in (">", ">=")
        if self.value != floor.value:
            return self.value < floor.value if higher_is_better else self.value > floor.value
        return self.op in (">=", "<=") and floor.op in (">", "<")

    def describe(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Regression:
    metric: str = "accuracy"
    tolerance: float = 0.0  # extra drop allowed below the interval
    z: float = 1.959964


@dataclass(frozen=True)
class GateSpec:
    name: str
    models: tuple[str, ...]
    floors: tuple[Threshold, ...]
    regression: Regression | None = None
    description: str = ""


def load_gate_specs(path: str | Path = GATES_FILE) -> dict[str, GateSpec]:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    specs = {}
    for name, body in (raw.get("gates") or {}).items():
        floors = tuple(Threshold(m, t["op"], float(t["value"])) for m, t in (body.get("thresholds") or {}).items())
        reg = body.get("regression")
        specs[name] = GateSpec(name, tuple(body.get("models") or ()), floors,
                               Regression(**reg) if isinstance(reg, dict) else None, body.get("description", ""))
    return specs


def gate_for_model(model: str, specs: dict[str, GateSpec] | None = None) -> GateSpec:
    specs = load_gate_specs() if specs is None else specs
    for spec in specs.values():
        if model in spec.models:
            return spec
    raise GateConfigError(f"no gate in {GATES_FILE.name} covers model '{model}': nothing is promoted without one")


def resolve_thresholds(spec: GateSpec, overrides: dict[str, float] | None = None,
                       override_reason: str = "") -> tuple[Threshold, ...]:
    """The floors with per-run overrides applied; a looser override needs a reason (it is recorded)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {t.metric for t in spec.floors})
    if unknown:
        raise GateConfigError(f"gate '{spec.name}': no threshold on {unknown} (it has "
                              f"{[t.metric for t in spec.floors]})")
    out = []
    for floor in spec.floors:
        t = Threshold(floor.metric, floor.op, float(overrides[floor.metric])) if floor.metric in overrides else floor
        if t.looser_than(floor) and not override_reason.strip():
            raise GateConfigError(
                f"gate '{spec.name}': {t.describe()} is looser than the project floor {floor.describe()}; "
                "give override_reason to record why, or keep the floor")
        out.append(t)
    return tuple(out)


def resolve_regression(spec: GateSpec, tolerance: float | None, override_reason: str = "") -> GateSpec:
    """The spec with a per-run regression tolerance; one looser than the project's needs a recorded reason."""
    if tolerance is None:
        return spec
    if spec.regression is None:
        raise GateConfigError(f"gate '{spec.name}' has no regression rule to set a tolerance on")
    if tolerance > spec.regression.tolerance and not override_reason.strip():
        raise GateConfigError(f"gate '{spec.name}': a regression tolerance of {tolerance:g} is looser than the "
                              f"project's {spec.regression.tolerance:g}; give override_reason to record why")
    return replace(spec, regression=replace(spec.regression, tolerance=float(tolerance)))


def check_floors(spec: GateSpec, thresholds: Sequence[Threshold]) -> list[str]:
    """Thresholds of a recorded verdict that are looser than (or missing from) today's floors."""
    given = {t.metric: t for t in thresholds}
    problems = []
    for floor in spec.floors:
        t = given.get(floor.metric)
        if t is None:
            problems.append(f"no threshold on {floor.metric} (floor {floor.describe()})")
        elif t.looser_than(floor):
            problems.append(f"{t.describe()} is looser than the floor {floor.describe()}")
    return problems


@dataclass(frozen=True)
class PairedDifference:
    """Challenger minus champion on the same examples, with a 95% interval (paired normal approximation)."""
    difference: float
    low: float
    high: float
    n: int


def paired_difference(challenger_correct: Sequence[bool], champion_correct: Sequence[bool],
                      z: float = 1.959964) -> PairedDifference:
    if len(challenger_correct) != len(champion_correct) or not challenger_correct:
        raise ValueError("paired comparison needs both models scored on the same, non-empty set of examples")
    n = len(challenger_correct)
    d = [float(a) - float(b) for a, b in zip(challenger_correct, champion_correct)]
    mean = sum(d) / n
    # variance of the paired differences; discordant pairs carry all of it
    var = sum((x - mean) ** 2 for x in d) / max(n - 1, 1)
    half = z * math.sqrt(var / n)
    return PairedDifference(mean, mean - half, mean + half, n)


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return ("PASSED: " if self.passed else "FAILED: ") + "; ".join(self.reasons)


def decide(spec: GateSpec, thresholds: Sequence[Threshold], metrics: dict[str, float],
           comparison: PairedDifference | None = None) -> GateDecision:
    """Every threshold met, and (when the gate has a regression rule and a champion was scored) no drop
    beyond the interval of the paired difference. A metric missing from `metrics` fails its threshold."""
    passed, reasons = True, []
    for t in thresholds:
        if t.metric not in metrics:
            passed = False
            reasons.append(f"{t.metric} was not measured (needs {t.describe()})")
            continue
        ok = t.ok(float(metrics[t.metric]))
        passed &= ok
        reasons.append(f"{t.metric} {float(metrics[t.metric]):.4f} {'meets' if ok else 'fails'} {t.op} {t.value:g}"
                       + _interval(metrics, t.metric))
    if spec.regression is not None:
        if comparison is None:
            reasons.append("no champion to compare with")
        else:
            ok = comparison.high >= -spec.regression.tolerance
            passed &= ok
            reasons.append(
                f"{spec.regression.metric} vs champion: {comparison.difference:+.4f} "
                f"(95% CI [{comparison.low:+.4f}, {comparison.high:+.4f}], n={comparison.n}): "
                + ("no significant drop" if ok else f"significant drop beyond tolerance {spec.regression.tolerance:g}"))
    return GateDecision(passed, reasons)


def _interval(metrics: dict[str, float], metric: str) -> str:
    """The measured 95% interval of a metric, where its evaluation reported one (`<metric>_ci95_low/_high`): a
    reader can tell a near miss that noise could explain from a clear one."""
    low, high = metrics.get(f"{metric}_ci95_low"), metrics.get(f"{metric}_ci95_high")
    if low is None or high is None:
        return ""
    return f" (95% CI [{float(low):.4f}, {float(high):.4f}])"


@dataclass(frozen=True)
class Verdict:
    """What a gate decided for one model version, with everything needed to check it later."""
    gate: str
    model: str
    version: str
    passed: bool
    metrics: dict[str, float]
    thresholds: tuple[Threshold, ...]
    reasons: tuple[str, ...]
    data_version: str
    code_version: str
    evaluated_at: float
    override_reason: str = ""
    evaluated_by: str = ""  # the Dagster run (or command) that ran the gate

    REQUIRED = ("gate", "model", "version", "data_version", "code_version")

    def missing(self) -> list[str]:
        return [f for f in self.REQUIRED if not str(getattr(self, f) or "").strip()]

    def to_dict(self) -> dict:
        return {"gate": self.gate, "model": self.model, "version": self.version, "passed": self.passed,
                "metrics": {k: float(v) for k, v in self.metrics.items()},
                "thresholds": [[t.metric, t.op, t.value] for t in self.thresholds], "reasons": list(self.reasons),
                "data_version": self.data_version, "code_version": self.code_version,
                "evaluated_at": self.evaluated_at, "override_reason": self.override_reason,
                "evaluated_by": self.evaluated_by}

    @classmethod
    def from_dict(cls, d: dict) -> "Verdict":
        return cls(d["gate"], str(d["model"]), str(d["version"]), bool(d["passed"]), dict(d.get("metrics") or {}),
                   tuple(Threshold(m, op, float(v)) for m, op, v in d.get("thresholds") or []),
                   tuple(d.get("reasons") or ()), d.get("data_version", ""), d.get("code_version", ""),
                   float(d.get("evaluated_at", 0.0)), d.get("override_reason", ""), d.get("evaluated_by", ""))
