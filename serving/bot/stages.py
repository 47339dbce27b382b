"""The stage protocol and the pipeline that runs stages in order, timing each one."""

from __future__ import annotations

import time
from typing import Callable, Protocol, Sequence

from .turn import Turn


class Stage(Protocol):
    name: str
    always: bool  # runs even after an earlier stage finished the turn (post-processing)

    def __call__(self, turn: Turn) -> Turn: ...


class Pipeline:
    """Runs the stages in order; one wrapper times each into `turn.timings_ms` and an observer."""

    def __init__(self, stages: Sequence[Stage], observe: Callable[[str, float], None] | None = None):
        self.stages = list(stages)
        self.observe = observe

    def __call__(self, turn: Turn) -> Turn:
        for stage in self.stages:
            if turn.done and not getattr(stage, "always", False):
                continue
            start = time.perf_counter()
            turn = stage(turn)
            elapsed = time.perf_counter() - start
            turn.timings_ms[stage.name] = turn.timings_ms.get(stage.name, 0.0) + elapsed * 1000
            if self.observe is not None:
                self.observe(stage.name, elapsed)
        return turn
