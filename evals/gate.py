"""Release gates: absolute thresholds plus no regression against the current champion."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return ("PASSED: " if self.passed else "FAILED: ") + "; ".join(self.reasons)


def accuracy_gate(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    min_accuracy: float = 0.92,
    max_regression: float = 0.01,
    metric: str = "accuracy",
) -> GateDecision:
    """Pass when challenger[metric] > min_accuracy and it is not worse than the champion (measured on
    the same split) by more than max_regression."""
    value = challenger[metric]
    ok_abs = value > min_accuracy
    reasons = [f"{metric} {value:.4f} {'>' if ok_abs else '<='} threshold {min_accuracy:.4f}"]
    ok_rel = True
    if champion is None:
        reasons.append("no champion yet")
    else:
        delta = value - champion[metric]
        ok_rel = delta >= -max_regression - 1e-9  # a drop of exactly the tolerance passes
        reasons.append(
            f"{metric} vs champion {champion[metric]:.4f}: {delta:+.4f} "
            f"({'within' if ok_rel else 'beyond'} tolerance {max_regression:.4f})"
        )
    return GateDecision(ok_abs and ok_rel, reasons)
