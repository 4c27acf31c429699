"""Every example counts: run a behaviour's body over all its drawn examples for one model.

Hypothesis stops at the first failure; a pass rate needs every example. The examples are drawn once per
behaviour (``runner.sampling``), the same for every model, and each model goes through them in three steps:

1. *record*: the model answers nothing and notes every request the examples would make;
2. the model scores all recorded requests in one batched call (shared prefixes computed once);
3. *count*: each example's body runs again against the now-cached scores; its verdict is recorded.

A failed assertion is the model's failure; any other exception is the behaviour's (bad data, a broken body) and
errors the item, naming the case, rather than being counted against the model. An example whose prompt does not
fit the model's context is recorded as too long: not scored, neither a pass nor a fail.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis.errors import UnsatisfiedAssumption

from generators.case import Case
from models.under_test import ModelUnderTest, PromptTooLong, Request, Scored, ScoringFailed
from runner.sampling import Example
from runner.verdicts import Verdict, collecting


class BehaviourError(Exception):
    """A behaviour body that raised something other than a failed assertion: an error of the item, not a fail."""


@dataclass(frozen=True)
class ExampleRecord:
    """One example's outcome, with what the model was asked and answered, and its verdict. A ``too_long`` example
    was not scored (its prompt does not fit the model's context): it is neither a pass nor a fail."""

    cases: tuple[Case, ...]
    scored: tuple[Scored, ...]
    verdict: Verdict
    arguments: tuple[str, ...] = ()
    key: str = ""
    too_long: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def failed(self) -> bool:
        return not self.passed and not self.too_long

    @property
    def message(self) -> str | None:
        return None if self.verdict.passed else self.verdict.reason


@dataclass
class CountedRun:
    """The examples of one behaviour for one model, each a distinct question."""

    records: list[ExampleRecord] = field(default_factory=list)
    drawn: int = 0

    def add(self, record: ExampleRecord) -> None:
        self.drawn += 1
        self.records.append(record)

    @property
    def judged(self) -> list[ExampleRecord]:
        """The examples the model answered: the population of the rate."""
        return [record for record in self.records if not record.too_long]

    @property
    def n(self) -> int:
        return len(self.judged)

    @property
    def passed(self) -> int:
        return sum(record.passed for record in self.judged)

    @property
    def too_long(self) -> int:
        return len(self.records) - self.n

    @property
    def rate(self) -> float:
        return self.passed / self.n if self.n else float("nan")


def _failure_text(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def is_counted_test(function: Any) -> bool:
    return hasattr(getattr(function, "hypothesis", None), "inner_test")


def count_examples(
    test: Any,
    fixtures: Mapping[str, Any],
    model: ModelUnderTest,
    *,
    examples: Sequence[Example],
    progress: Callable[[int, int], None] | None = None,
) -> CountedRun:
    """Record, batch-score, then count every example of ``test`` for ``model``."""
    body = test.hypothesis.inner_test
    requests = record_requests(body, fixtures, model, examples)
    total = len(set(requests))
    model.prefetch(requests, progress=None if progress is None else lambda done: progress(done, total))
    run = CountedRun()
    for example in examples:
        record = run_example(body, model, fixtures, example)
        if record is not None:
            run.add(record)
    return run


def record_requests(
    body: Callable, fixtures: Mapping[str, Any], model: ModelUnderTest, examples: Sequence[Example]
) -> list[Request]:
    """The requests the examples would make, the model answering nothing (placeholder scores)."""
    with model.recording() as requests:
        for example in examples:
            try:
                body(**fixtures, **example.arguments)
            except Exception:  # placeholder scores may fail any check; the counted pass is what decides
                pass
    return requests


def run_example(
    body: Callable, model: ModelUnderTest, fixtures: Mapping[str, Any], example: Example
) -> ExampleRecord | None:
    """One example's verdict; None if the body rejected it (``assume``)."""
    model.take_scored()
    error: BaseException | None = None
    with collecting() as judged:
        try:
            body(**fixtures, **example.arguments)
        except UnsatisfiedAssumption:
            return None
        except PromptTooLong as unscored:
            return _too_long(model, example, unscored)
        except (AssertionError, pytest.fail.Exception) as failed:
            error = failed
        except ScoringFailed:
            raise  # the model's fault, not the behaviour's
        except Exception as broken:
            cases = ", ".join(f"{name}={case.id}" for name, case in example.cases.items()) or "its arguments"
            raise BehaviourError(f"the behaviour raised on {cases}: {_failure_text(broken)}") from broken
    scored = tuple(model.take_scored())
    verdict = judged[0] if judged else _classification(scored, error)
    return ExampleRecord(
        cases=tuple(example.cases.values()),
        scored=scored,
        verdict=verdict,
        arguments=tuple(example.cases),
        key=example.key,
    )


def _too_long(model: ModelUnderTest, example: Example, reason: PromptTooLong) -> ExampleRecord:
    return ExampleRecord(
        cases=tuple(example.cases.values()),
        scored=tuple(model.take_scored()),
        verdict=Verdict("not scored", math.nan, False, str(reason)),
        arguments=tuple(example.cases),
        key=example.key,
        too_long=True,
    )


def _classification(scored: Sequence[Scored], error: BaseException | None) -> Verdict:
    """The verdict of a plain ``assert`` body: its outcome, with the first scored case's classification loss."""
    loss = scored[0].loss if scored else math.nan
    if error is not None:
        return Verdict("classification", loss, False, _failure_text(error).removeprefix("AssertionError: "))
    reason = f"the right class {scored[0].case.answer!r} has the highest log-prob" if scored else "the body passed"
    return Verdict("classification", loss, True, reason)
