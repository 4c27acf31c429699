"""How a generator turns a right and a wrong answer into a case: the prize's spacing, and where the answer sits.

A case is what the model sees. Where the options are *listed in the prompt* (``A. ... B. ...``), their order is
part of the question, and the released repetition-suppression data shows why it must vary: it always listed the
right answer second, so a scorer that always picked the second class scored 100%. Those generators draw the
position (``answer_position="balanced"``) and record it as the ``answer_position`` axis. Where the options are
*not* in the prompt, each class is scored after the same prompt and their order is invisible: reordering them is
the same question, so such cases take one canonical order and have no position axis (balancing them only counted
each question twice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, TypeVar

from hypothesis import strategies as st

from generators.case import AxisValue, Case
from generators.options import require_choice

T = TypeVar("T")
AnswerPosition = Literal["balanced", "first", "second"]
ANSWER_POSITIONS: tuple[AnswerPosition, ...] = ("balanced", "first", "second")


def answer_first(caller: str, answer_position: AnswerPosition) -> st.SearchStrategy[bool]:
    """Whether the right option is listed first: drawn when balanced, fixed otherwise."""
    require_choice(caller, "answer_position", answer_position, ANSWER_POSITIONS)
    return st.booleans() if answer_position == "balanced" else st.just(answer_position == "first")


def position_domain(answer_position: AnswerPosition) -> tuple[int, ...]:
    """The ``answer_position`` values a generator declares for the choice it was given."""
    return {"balanced": (0, 1), "first": (0,), "second": (1,)}[answer_position]


def in_order(right: T, wrong: T, first: bool) -> tuple[T, T]:
    """The two options in listing order; for generators that place options in the prompt (``A.``/``B.``)."""
    return (right, wrong) if first else (wrong, right)


def _checked(prompt: str, classes: Sequence[str]) -> None:
    """Classes start with a space and the prompt does not end with one: the space belongs to the continuation,
    which is how the prize and lm-evaluation-harness tokenize (a misplaced space changes every log-prob)."""
    if prompt != prompt.rstrip():
        raise ValueError(f"a prompt must not end with whitespace (it belongs to the classes): {prompt[-20:]!r}")
    if not all(option.startswith(" ") and option.strip() for option in classes):
        raise ValueError(f"every class must be a space followed by text, got {tuple(classes)!r}")


def listed_case(
    prompt: str,
    classes: Sequence[str],
    answer_index: int,
    axes: Mapping[str, AxisValue],
    *,
    domains: Mapping[str, Sequence[AxisValue]],
    positions: Sequence[int],
    **extra: object,
) -> Case:
    """A case whose options are listed in ``prompt`` in the order of ``classes``; records ``answer_position``.
    ``positions`` declares the positions the generator can put the answer at (its ``answer_position`` domain)."""
    _checked(prompt, classes)
    return Case(
        prompt=prompt,
        classes=tuple(classes),
        answer_index=answer_index,
        axes={**axes, "answer_position": answer_index},
        domains={**domains, "answer_position": tuple(positions)},
        **extra,  # type: ignore[arg-type]
    )


def open_case(
    prompt: str,
    right: str,
    wrong: str | Sequence[str],
    axes: Mapping[str, AxisValue],
    *,
    domains: Mapping[str, Sequence[AxisValue]] | None = None,
    **extra: object,
) -> Case:
    """A case whose options are not in the prompt: the right class first, then the wrong one(s), always."""
    wrongs = (wrong,) if isinstance(wrong, str) else tuple(wrong)
    classes = (right, *wrongs)
    _checked(prompt, classes)
    return Case(
        prompt=prompt,
        classes=classes,
        answer_index=0,
        axes=dict(axes),
        domains=dict(domains or {}),
        **extra,  # type: ignore[arg-type]
    )
