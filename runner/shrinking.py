"""The minimal failing example, by Hypothesis' own search and shrinking, and exact replays of pinned cases.

Counting draws uniformly (``runner.sampling``); showing *why* a model fails wants the opposite, Hypothesis'
search for the simplest failure, so this runs the test under the default backend with shrinking on.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import Phase

from generators.case import Case
from models.under_test import ModelUnderTest, PromptTooLong
from runner.counting import ExampleRecord, run_example
from runner.sampling import Example, configured

SEARCH_PHASES = (Phase.explicit, Phase.generate, Phase.shrink)


def replay(
    test: Any, fixtures: Mapping[str, Any], model: ModelUnderTest, cases: Mapping[str, Case]
) -> ExampleRecord | None:
    """Run the test body on exact cases (a pinned failure from an earlier run), outside Hypothesis."""
    return run_example(test.hypothesis.inner_test, model, fixtures, Example(dict(cases)))


@dataclass(frozen=True)
class MinimalFailure:
    """Hypothesis' report of its shrunk failing example, and the cases it was made of (to pin them)."""

    report: str
    cases: Mapping[str, Case]


def minimal_failure(
    test: Any,
    fixtures: Mapping[str, Any],
    *,
    seed: Hashable,
    examples: int,
    progress: Callable[[int], None] | None = None,
) -> MinimalFailure | None:
    """Hypothesis' shrunk minimal failing example, or None if its search found no failure.

    ``progress(k)`` is told how many examples the search has run, before each one: shrinking asks the model new
    questions one at a time, which on long prompts takes a while.
    """
    body = test.hypothesis.inner_test
    last_failing: dict[str, Case] = {}
    calls = [0]

    @functools.wraps(body)
    def remembering(*args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if progress is not None:
            progress(calls[0])
        try:
            body(*args, **kwargs)
        except PromptTooLong:
            return  # not scored, so not a failure to search for
        except (Exception, pytest.fail.Exception):
            last_failing.clear()
            last_failing.update({name: value for name, value in kwargs.items() if isinstance(value, Case)})
            raise

    with configured(test, seed=seed, examples=examples, phases=SEARCH_PHASES, inner=remembering, backend="hypothesis"):
        try:
            test(**fixtures)
        except (Exception, pytest.fail.Exception) as error:
            report = "".join(traceback.format_exception_only(type(error), error)).strip()
            return MinimalFailure(report=report, cases=dict(last_failing))
    return None
