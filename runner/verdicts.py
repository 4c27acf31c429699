"""An example's verdict as data: which metric judged it, its loss, whether it passed, and why.

A behaviour asserts; the runner counts. A body that judges through ``judge(verdict)`` hands the runner the
whole verdict (the prize metrics' losses included) before asserting; a plain ``assert scored.right`` body gets
the classification verdict of the first case it scored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_JUDGED: ContextVar[list[Verdict] | None] = ContextVar("scalecheck_judged", default=None)


@dataclass(frozen=True)
class Verdict:
    """One example under one metric: the prize's loss, whether it passes, and why, in words."""

    metric: str
    loss: float
    passed: bool
    reason: str


def judge(verdict: Verdict) -> None:
    """Record ``verdict`` for the example being counted, then assert it (so the test reads as any other)."""
    judged = _JUDGED.get()
    if judged is not None:
        judged.append(verdict)
    assert verdict.passed, verdict.reason


@contextmanager
def collecting() -> Iterator[list[Verdict]]:
    """The verdicts ``judge`` records while the block runs (one example's body)."""
    judged: list[Verdict] = []
    token = _JUDGED.set(judged)
    try:
        yield judged
    finally:
        _JUDGED.reset(token)
