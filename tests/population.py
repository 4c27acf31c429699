"""What a default run counts, for tests that pin a behaviour's population: its drawn cases, and how evenly they
cover the values each case declares for its axes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from generators.case import Case
from runner.sampling import draw_examples


def counted_cases(test: Callable[..., Any], count: int = 200) -> list[Case]:
    """The cases ``draw_examples`` gives a one-case behaviour test at the default seed."""
    return [next(iter(example.cases.values())) for example in draw_examples(test, seed=0, count=count)]


def uneven_axes(cases: Sequence[Case], tolerance: float = 0.4) -> dict[str, Counter]:
    """The declared axes whose drawn values miss a declared value or stray more than ``tolerance`` (a share of
    the even count) from it, each counted over the cases that have the axis; empty when all are even."""
    declared = {axis: values for case in cases for axis, values in case.domains.items()}
    uneven = {}
    for axis, values in declared.items():
        counts = Counter(case.axes[axis] for case in cases if axis in case.axes)
        even = sum(counts.values()) / len(values)
        if set(counts) != set(values) or any(abs(counts[value] - even) > tolerance * even for value in values):
            uneven[axis] = counts
    return uneven
