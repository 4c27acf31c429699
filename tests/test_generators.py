"""The strategies in generators/: valid cases by construction, spread over every axis, clear argument errors."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from generators import (
    ALPHABETS,
    TEMPLATES,
    Case,
    alphabets,
    build_repetition_case,
    patterns,
    repetition_suppression_cases,
    repetitions,
    templates,
)
from generators.alphabets import Pattern
from runner.sampling import draw_cases

T = TypeVar("T")


def draw(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """The cases a behaviour of ``count`` examples counts (uniform, distinct, seed 0), as the plugin draws them."""
    return draw_cases(strategy, count=count)


@given(repetition_suppression_cases())
def test_the_labelled_answer_breaks_the_pattern(case: Case) -> None:
    """Checked by an independent rule: read the shown sequence back and find the symbol that would continue it."""
    instruction, shown_line = case.prompt.rsplit("\n", 1)
    assert shown_line.endswith(",")
    shown = shown_line[:-1].split(", ")
    a, b = shown[0], shown[1]
    assert a != b and all(symbol == (a if i % 2 == 0 else b) for i, symbol in enumerate(shown))
    assert len(shown) % 2 == 1 and len(shown) == 2 * case.axes["repetitions"] - 1
    assert str(len(shown) + 1) in instruction
    continuation = shown[-2]
    assert case.answer == " " + shown[-1] and case.answer.strip() != continuation
    assert sorted(case.classes) == sorted([" " + a, " " + b])
    if case.axes["mentions_forbidden"]:
        assert instruction.rstrip(".").endswith(continuation) or f" {continuation}." in instruction


def test_cases_cover_every_template_repetition_and_seed_alphabet() -> None:
    cases = draw(repetition_suppression_cases(), 400)
    assert {case.axes["template"] for case in cases} == {template.id for template in TEMPLATES}
    assert {case.axes["repetitions"] for case in cases} == set(range(3, 11))
    seen_alphabets = {case.axes["alphabet"] for case in cases}
    assert {alphabet.name for alphabet in ALPHABETS if alphabet.in_seed} <= seen_alphabets


def test_unlisted_options_take_one_order_and_no_position_axis() -> None:
    """The options are not in the prompt: listing them the other way round would be the same question."""
    cases = draw(repetition_suppression_cases(), 100)
    assert {case.answer_index for case in cases} == {0}
    assert all("answer_position" not in case.axes for case in cases)


def test_at_least_eighteen_templates_some_naming_the_forbidden_symbol() -> None:
    assert len(TEMPLATES) >= 18
    assert 3 <= sum(template.mentions_forbidden for template in TEMPLATES) < len(TEMPLATES)
    seed = "Generate a sequence of {n} symbols alternating between two symbols ({symbols}) but ending unexpectedly."
    assert seed in {template.text for template in TEMPLATES}


def test_the_seed_alphabets_are_all_there() -> None:
    firsts = {(alphabet.symbols[0], alphabet.symbols[1]) for alphabet in ALPHABETS if alphabet.in_seed}
    assert firsts == {
        ("A", "B"), ("1", "2"), ("i", "ii"), ("a", "b"), ("one", "two"), ("q", "w"), ("aa", "ab"),
        ("ba", "bb"), ("alpha", "beta"), ("first", "second"), ("left", "right"), ("0", "1"), ("o", "x"),
    }  # fmt: skip


@given(patterns(from_start=True))
def test_from_start_alternates_the_first_two_symbols(pattern: Pattern) -> None:
    alphabet = next(alphabet for alphabet in ALPHABETS if alphabet.name == pattern.alphabet)
    assert (pattern.a, pattern.b) == alphabet.symbols[:2]


def test_case_id_depends_on_what_the_model_sees_and_the_label_only() -> None:
    pattern = Pattern(alphabet="upper", a="A", b="B", listing="A B C")
    case = build_repetition_case(pattern, 3, TEMPLATES[0])
    assert case.prompt.endswith("\nA, B, A, B, A,") and case.classes == (" A", " B") and case.answer == " A"
    assert case.id == "90403fcf3da95626"  # pinned: ids are compared across runs and checkpoints
    relabelled = Case(prompt=case.prompt, classes=case.classes, answer_index=case.answer_index, axes={"other": 1})
    assert relabelled.id == case.id and relabelled == case
    reordered = Case(prompt=case.prompt, classes=(" B", " A"), answer_index=1)
    assert reordered.id == case.id  # the model sees the same question: one case, counted once
    assert Case(prompt=case.prompt, classes=(" A", " B"), answer_index=1).id != case.id


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: repetitions(min_value=0), "1 <= min_value"),
        (lambda: repetitions(min_value=5, max_value=4), "min_value <= max_value"),
        (lambda: repetitions(max_value=2.5), "takes an int"),
        (lambda: templates(ids=["nope"]), "unknown ['nope']"),
        (lambda: templates(ids="seed-set"), "collection of ids"),
        (lambda: templates(mentions_forbidden="yes"), "True, False or None"),
        (lambda: alphabets(kinds=["emoji"]), "known kinds"),
        (lambda: alphabets(names=["upper"], kinds=["words"]), "selects nothing"),
        (lambda: patterns(alphabet=ALPHABETS[0]), "strategy of Alphabet"),
        (lambda: repetition_suppression_cases(repetition=4), "takes a strategy"),
    ],
)
def test_invalid_arguments_fail_when_the_strategy_is_built(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        make()


def test_case_rejects_an_answer_outside_its_classes() -> None:
    with pytest.raises(ValueError, match="outside classes"):
        Case(prompt="p", classes=(" a", " b"), answer_index=2)
    with pytest.raises(ValueError, match="distinct"):
        Case(prompt="p", classes=(" a", " a"), answer_index=0)
