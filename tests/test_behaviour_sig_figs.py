"""sig_figs: the prize's listed A/B format, options that always differ in value, and a counted population that is
uniform over every declared axis (issue #10: length decided every case whose classes were prefixes)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from behaviours import test_sig_figs as behaviour
from generators.case import Case
from generators.sig_figs import (
    MAGNITUDES,
    build_sig_figs_case,
    numbers,
    sig_figs_cases,
    to_decimal_places,
    to_significant_figures,
)
from tests.population import counted_cases, uneven_axes


@pytest.fixture(scope="module")
def counted() -> list[Case]:
    """The cases a default run counts."""
    return counted_cases(behaviour.test_sig_figs)


def test_the_prize_format_lists_both_roundings_and_asks_for_a_letter() -> None:
    case = build_sig_figs_case(Decimal("86451.3"), 2, "round", "digits", "large", first=False)
    assert case.prompt == "Please round 86451.3 to 2 significant digits.\nA. 86451.30\nB. 86000\nAnswer:"
    assert (case.classes, case.answer, case.axes["answer_position"]) == ((" A", " B"), " B", 1)


def test_a_number_whose_roundings_are_equal_is_refused() -> None:
    with pytest.raises(ValueError, match="both 20.0"):
        build_sig_figs_case(Decimal("19.96"), 1, "round", "figures", "medium", first=True)


@given(st.integers(1, 6), st.sampled_from(MAGNITUDES), st.data())
def test_numbers_have_their_magnitude_and_two_different_roundings(
    figures: int, magnitude: str, data: st.DataObject
) -> None:
    x = data.draw(numbers(figures, magnitude))
    integer_digits = len(str(int(x))) if x >= 1 else 0
    expected = {
        "large": integer_digits > figures,
        "medium": 1 <= integer_digits <= figures,
        "small": x < Decimal("0.1"),
    }
    assert expected[magnitude], (x, figures)
    shown = format(x, "f")
    assert len(shown.lstrip("0.").replace(".", "")) > figures and not shown.endswith("0")
    assert to_significant_figures(x, figures) != to_decimal_places(x, figures)


def test_options_are_always_the_letters_and_the_right_one_can_be_fixed(counted: list[Case]) -> None:
    assert {case.classes for case in counted} == {(" A", " B")}
    cases = counted_cases(_second_only, 20)
    assert {case.answer for case in cases} == {" B"} and {case.domains["answer_position"] for case in cases} == {(1,)}


@given(case=sig_figs_cases(answer_position="second"))
def _second_only(case: Case) -> None:
    """A @given test for draw_examples: the behaviour with the right option always listed second."""


def test_every_declared_axis_is_drawn_evenly(counted: list[Case]) -> None:
    assert counted[0].domains == {
        "figures": (1, 2, 3, 4),
        "magnitude": MAGNITUDES,
        "frame": ("round", "express", "question"),
        "word": ("figures", "digits"),
        "answer_position": (0, 1),
    }
    assert uneven_axes(counted) == {}
