"""Repetition suppression's new axes: solved demonstrations, longer cycles, the forbidden-symbol instructions.

Every case is checked by reading its prompt back, not by re-running the generator: the shown sequence must be
periodic, the labelled answer must break the period, and each demonstration must end by breaking its own.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from generators import (
    ALPHABETS,
    CYCLE_TEMPLATES,
    TEMPLATES,
    Case,
    Cycle,
    build_repetition_case,
    cycles,
    repetition_suppression_cases,
    templates,
)
from tests.test_generators import draw

MIXED = repetition_suppression_cases(shots=st.sampled_from([0, 1, 2, 4, 8]), period=st.sampled_from([2, 3, 4]))


def _periodic(symbols: list[str], period: int) -> bool:
    first = symbols[:period]
    return len(set(first)) == period and all(symbol == first[i % period] for i, symbol in enumerate(symbols))


def _check_demonstration(block: str, period: int) -> None:
    instruction, sequence = block.rsplit("\n", 1)
    symbols = sequence.split(", ")
    assert len(symbols) % period == 0 and re.search(rf"\b{len(symbols)}\b", instruction)
    assert _periodic(symbols[:-1], period), block
    assert symbols[-1] != symbols[-1 - period], f"the demonstration does not break its pattern: {block!r}"


@settings(max_examples=60)
@given(MIXED)
def test_the_answer_breaks_the_cycle_and_every_demonstration_is_solved(case: Case) -> None:
    period, *blocks = case.axes["period"], *case.prompt.split("\n\n")
    *demonstrations, question = blocks
    assert len(demonstrations) == case.axes["shots"]
    for block in demonstrations:
        _check_demonstration(block, period)
    instruction, shown_line = question.rsplit("\n", 1)
    shown = shown_line.removesuffix(",").split(", ")
    assert shown_line.endswith(",") and _periodic(shown, period)
    assert (len(shown) + 1) % period == 0 and re.search(rf"\b{len(shown) + 1}\b", instruction)
    continuation = shown[-period]
    assert case.answer.strip() != continuation and case.answer == " " + shown[-1]
    assert sorted(case.classes) == sorted([" " + shown[-1], " " + continuation])
    assert case.axes["pattern"] == " ".join(shown[:period])
    if case.axes["mentions_forbidden"]:
        assert re.search(rf"(?<!\w){re.escape(continuation)}(?!\w)", instruction)


def test_shots_and_period_are_recorded_and_every_value_is_drawn() -> None:
    cases = draw(MIXED, 300)
    assert {case.axes["shots"] for case in cases} == {0, 1, 2, 4, 8}
    assert {case.axes["period"] for case in cases} == {2, 3, 4}
    assert {case.axes["template"] for case in cases if case.axes["period"] > 2} <= {t.id for t in CYCLE_TEMPLATES}
    assert {case.axes["template"] for case in cases if case.axes["period"] == 2} <= {t.id for t in TEMPLATES}
    assert {case.answer_index for case in cases} == {0}  # options are not listed: one order


def test_by_default_a_case_is_zero_shot_with_two_symbols_and_says_so() -> None:
    cases = draw(repetition_suppression_cases(), 50)
    assert {(case.axes["shots"], case.axes["period"]) for case in cases} == {(0, 2)}
    assert all("\n\n" not in case.prompt for case in cases)


@pytest.mark.parametrize("named", [True, False])
def test_naming_the_forbidden_symbol_is_a_selectable_axis(named: bool) -> None:
    for strategy in (
        repetition_suppression_cases(mentions_forbidden=named),
        repetition_suppression_cases(mentions_forbidden=named, period=st.just(3)),
    ):
        assert {case.axes["mentions_forbidden"] for case in draw(strategy, 40)} == {named}


def test_cycles_are_consecutive_symbols_of_an_alphabet_long_enough() -> None:
    for period in (3, 5):
        for cycle in draw(cycles(period=period), 40):
            symbols = next(alphabet.symbols for alphabet in ALPHABETS if alphabet.name == cycle.alphabet)
            start = symbols.index(cycle.symbols[0])
            assert cycle.symbols == symbols[start : start + period] and cycle.period == period
            assert cycle.listing.startswith(" ".join(cycle.symbols))


def test_templates_can_be_drawn_from_the_cycle_catalogue() -> None:
    drawn = {template.id for template in draw(templates(cyclic=True), 60)}
    assert drawn == {template.id for template in CYCLE_TEMPLATES}
    assert all("{cycle}" in template.text and "{a}" not in template.text for template in CYCLE_TEMPLATES)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: repetition_suppression_cases(shots=4), "repetition_suppression_cases(shots=...) takes a strategy"),
        (lambda: repetition_suppression_cases(period=[3]), "takes a strategy"),
        (lambda: repetition_suppression_cases(mentions_forbidden="yes"), "True, False or None"),
        (
            lambda: repetition_suppression_cases(template=templates(), mentions_forbidden=True),
            "give template=... or mentions_forbidden=..., not both",
        ),
        (lambda: cycles(period=1), "cycles(period=1) needs 2 <= period"),
        (lambda: templates(cyclic="yes"), "templates(cyclic=...) takes True or False"),
        (lambda: templates(ids=["seed-set"], cyclic=True), "unknown ['seed-set']"),
    ],
)
def test_invalid_arguments_fail_when_the_strategy_is_built(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        make()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shots": st.just(-1)}, "repetition_suppression_cases(shots=-1) needs 0 <= shots <= 16"),
        ({"period": st.just(1)}, "repetition_suppression_cases(period=1) needs 2 <= period"),
    ],
)
def test_bad_drawn_values_are_named(options: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        draw(repetition_suppression_cases(**options), 1)


def test_a_two_symbol_template_cannot_ask_for_a_longer_cycle() -> None:
    cycle = Cycle(alphabet="upper", symbols=("A", "B", "C"), listing="A B C")
    with pytest.raises(
        InvalidArgument, match="template 'seed-alternating' asks for two alternating symbols, not a cycle of 3"
    ):
        build_repetition_case(cycle, 3, TEMPLATES[0])
