"""The population a rate estimates: examples drawn uniformly from a behaviour's strategies, each question once.

Hypothesis' own generation is built to find bugs: it favours "simple" draws (the first element of a
``sampled_from``, small integers, boundary values), so a pass rate over its examples estimates a population
nobody declared (few-shot runs drew zero shots 9 times in 200, eight shots 29). A pass rate needs a declared
population, so scalecheck draws its counted examples through an alternative Hypothesis backend, ``UniformProvider``:
every bounded integer choice (``sampled_from``, ``integers(a, b)``, ``one_of``) is uniform, every boolean
choice has exactly its declared probability, and no constants are injected. The strategies stay the single
declaration of the case space, and the default backend still searches and shrinks a failing example.

Examples are distinct by what the model sees: a draw whose cases were all drawn before is rejected and drawn
again, so the counted examples are a uniform sample *without replacement*. The same seed gives the same
examples in the same order for every model size, and a larger count extends a smaller one's stream.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, reject, settings
from hypothesis.internal.conjecture.providers import AVAILABLE_PROVIDERS, HypothesisProvider

from generators.case import Case

BACKEND = "scalecheck-uniform"


class UniformProvider(HypothesisProvider):
    """Hypothesis' provider without its bias: bounded integers uniform, booleans at their stated p, no
    constants injected. Unbounded integers, floats, strings and bytes keep Hypothesis' own distributions."""

    def _maybe_draw_constant(self, choice_type: str, constraints: Any, *, p: float = 0.05) -> None:  # type: ignore[override]
        return None

    def draw_integer(
        self,
        min_value: int | None = None,
        max_value: int | None = None,
        *,
        weights: dict[int, float] | None = None,
        shrink_towards: int = 0,
    ) -> int:
        if min_value is None or max_value is None:
            return super().draw_integer(min_value, max_value, weights=weights, shrink_towards=shrink_towards)
        assert self._random is not None
        if weights is not None and self._random.random() < sum(weights.values()):
            point = self._random.random() * sum(weights.values())
            for value, weight in weights.items():
                point -= weight
                if point < 0:
                    return value
        return self._random.randint(min_value, max_value)


AVAILABLE_PROVIDERS[BACKEND] = UniformProvider


@dataclass(frozen=True)
class Example:
    """One drawn example: the values of the test's ``@given`` arguments."""

    arguments: Mapping[str, Any]

    @property
    def cases(self) -> dict[str, Case]:
        return {name: value for name, value in self.arguments.items() if isinstance(value, Case)}

    @property
    def key(self) -> str:
        """What the model is asked: its cases' ids (``Case.id`` ignores the order of unlisted classes)."""
        cases = self.cases
        if cases:
            return "+".join(case.id for case in cases.values())
        return repr(sorted(self.arguments.items()))


@contextmanager
def configured(
    test: Any, *, seed: Hashable, examples: int, phases: tuple[Phase, ...], inner: Callable, backend: str
) -> Iterator[None]:
    """Temporarily give a @given test our seed, settings and inner test; restore all three afterwards."""
    handle = test.hypothesis
    saved = (test._hypothesis_internal_use_settings, test._hypothesis_internal_use_seed, handle.inner_test)
    test._hypothesis_internal_use_settings = settings(
        saved[0],
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=phases,
        backend=backend,
        report_multiple_bugs=False,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    test._hypothesis_internal_use_seed = seed
    handle.inner_test = inner
    try:
        yield
    finally:
        test._hypothesis_internal_use_settings, test._hypothesis_internal_use_seed, handle.inner_test = saved


def fixture_names(test: Any) -> list[str]:
    """The arguments a @given test takes from pytest (its ``@given`` ones are filled by Hypothesis)."""
    return list(inspect.signature(test).parameters)


def draw_examples(test: Any, *, seed: Hashable, count: int) -> list[Example]:
    """Up to ``count`` distinct examples of a @given ``test``, uniformly drawn, in a seeded order.

    Fewer come back only when the case space holds fewer distinct questions than asked for (Hypothesis gives
    up after many rejected draws in a row)."""
    drawn: list[Example] = []
    seen: set[str] = set()

    @functools.wraps(test.hypothesis.inner_test)
    def collect(*args: Any, **kwargs: Any) -> None:
        given = {name: value for name, value in kwargs.items() if name not in placeholders}
        example = Example(given)
        if example.key in seen:
            reject()
        seen.add(example.key)
        drawn.append(example)

    placeholders = {name: None for name in fixture_names(test)}
    with configured(test, seed=seed, examples=count, phases=(Phase.generate,), inner=collect, backend=BACKEND):
        test(**placeholders)
    return drawn


def draw_cases(strategy: Any, *, count: int, seed: Hashable = 0) -> list[Case]:
    """Up to ``count`` distinct cases of one strategy, exactly as a behaviour ``@given(case=strategy)`` counts them."""
    from hypothesis import given

    @given(case=strategy)
    def each(case: Case) -> None:
        """Never run: only its draws are collected."""

    return [example.arguments["case"] for example in draw_examples(each, seed=seed, count=count)]
