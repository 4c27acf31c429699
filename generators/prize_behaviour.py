"""Any Inverse Scaling Prize CSV as a behaviour, in one line of a file under ``behaviours/``::

    test_my_task = prize_csv_behaviour("behaviours/data/my_task.csv", metric="classification")

The behaviour's name is the name it is assigned to (``my_task``). It draws a row per example like any other
behaviour, so ``--examples`` should be at least the file's row count to cover a small file (Hypothesis stops
early once every row has been drawn). Each example passes or fails by its metric's condition
(``generators/prize_metrics.py``); a file that breaks the format fails collection with one line naming the row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis.errors import InvalidArgument

from generators import prize_metrics
from generators.case import Case
from generators.options import require_choice
from generators.prize_csv import LOGODDS_METRICS, METRICS, Metric, prize_csv_cases
from runner.verdicts import judge


def prize_csv_behaviour(
    path: str | Path,
    *,
    metric: Metric,
    required_rate: float = 0.5,
    min_probability: float = prize_metrics.DEFAULT_MIN_PROBABILITY,
    max_shift: float = prize_metrics.DEFAULT_MAX_SHIFT,
) -> Callable[..., None]:
    """A counted behaviour test over the rows of ``path`` (relative to where pytest runs, or absolute)."""
    try:
        require_choice("prize_csv_behaviour", "metric", metric, METRICS)
        strategies = {"case": prize_csv_cases(path, metric=metric)}
        if metric in LOGODDS_METRICS:
            strategies["other"] = prize_csv_cases(path, metric=metric, side="other_prompt")
    except InvalidArgument as error:
        raise pytest.fail.Exception(str(error), pytrace=False) from None

    def one_prompt(case: Case, lm: prize_metrics.Scorer) -> None:
        if metric == "sequence_prob":
            judge(prize_metrics.sequence_prob(lm, case, min_probability=min_probability))
        else:
            judge(prize_metrics.classification(lm, case))

    def two_prompts(case: Case, other: Case, lm: prize_metrics.Scorer) -> None:
        if metric == "logodds":
            judge(prize_metrics.logodds(lm, case, other))
        else:
            judge(prize_metrics.absolute_logodds(lm, case, other, max_shift=max_shift))

    body = two_prompts if "other" in strategies else one_prompt
    body.__name__ = body.__qualname__ = "test_" + re.sub(r"\W", "_", Path(path).stem)
    return pytest.mark.behaviour(required_rate=required_rate)(given(**strategies)(body))
