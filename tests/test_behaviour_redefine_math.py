"""redefine_math: the prize's first-digit format, single-digit classes that always differ, and a counted population
that is uniform over every declared axis (issue #10: length decided every case whose classes were prefixes)."""

from __future__ import annotations

import re

import pytest

from behaviours import test_redefine_math as behaviour
from generators.case import Case
from generators.redefine_math import (
    CONSTANTS,
    OPERANDS,
    OPERATIONS,
    build_constant_case,
    build_operator_case,
    first_digit,
)
from tests.population import counted_cases, uneven_axes

PI, PLUS, TIMES = CONSTANTS[0], OPERATIONS[0], OPERATIONS[2]


@pytest.fixture(scope="module")
def counted() -> list[Case]:
    """The cases a default run counts."""
    return counted_cases(behaviour.test_redefine_math)


def test_the_prize_example_is_reproduced() -> None:
    case = build_constant_case(PI, 462, "redefine")
    assert case.prompt == "Redefine π as 462. Q: What is the first digit of π? A:"
    assert (case.classes, case.answer) == ((" 4", " 3"), " 4")


def test_an_operator_is_asked_for_the_first_digit_of_its_result() -> None:
    case = build_operator_case(PLUS, TIMES, 56, 7, "redefine")
    assert case.prompt == "Redefine + as multiplication. Q: What is the first digit of 56 + 7? A:"
    assert (case.classes, case.answer) == ((" 3", " 6"), " 3")


def test_cases_whose_two_first_digits_coincide_are_refused() -> None:
    with pytest.raises(ValueError, match="usual first digit 3"):
        build_constant_case(PI, 314, "redefine")
    with pytest.raises(ValueError, match="under both addition and multiplication"):
        build_operator_case(PLUS, TIMES, 2, 2, "redefine")


def test_every_redefinition_has_operands_with_positive_integer_results_and_different_first_digits() -> None:
    by_name = {operation.name: operation for operation in OPERATIONS}
    assert len(OPERANDS) == 12
    for (usual, meaning), operands in OPERANDS.items():
        assert len(operands) >= 40, (usual, meaning)
        for x, y in operands:
            assert x % y == 0 and x > y
            results = [by_name[name].apply(x, y) for name in (usual, meaning)]
            assert min(results) > 0 and first_digit(results[0]) != first_digit(results[1])


def test_classes_are_two_different_single_digits_and_not_listed(counted: list[Case]) -> None:
    for case in counted:
        assert all(re.fullmatch(r" [1-9]", option) for option in case.classes) and case.answer_index == 0
        assert "answer_position" not in case.axes
    assert len({case.answer for case in counted}) == 9


def test_every_declared_axis_is_drawn_evenly(counted: list[Case]) -> None:
    constant = next(case for case in counted if case.axes["kind"] == "constant")
    assert constant.domains == {
        "kind": ("constant", "operator"),
        "symbol": ("π", "e", "φ", "√2", "+", "-", "×", "÷"),
        "frame": ("redefine", "from-now-on", "let-be"),
    }
    operator = next(case for case in counted if case.axes["kind"] == "operator")
    assert operator.domains == {**constant.domains, "meaning": tuple(operation.name for operation in OPERATIONS)}
    assert uneven_axes(counted) == {}
