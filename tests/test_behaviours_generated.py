"""The generated behaviours' cases are right by construction, checked by rules independent of the generators.

Each check reads the prompt back and recomputes the answer another way: the redefined expression is evaluated,
the rounding redone with ``decimal.quantize``, the category membership looked up. Modus tollens, memo trap and
hindsight neglect have files of their own (``test_behaviour_<name>.py``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from generators import (
    Case,
    negated_qa_cases,
    redefine_math_cases,
    sig_figs_cases,
)
from generators.negated_qa import CATEGORIES, build_negated_qa_case
from tests.test_generators import draw

GENERATORS: dict[str, Callable[..., st.SearchStrategy[Case]]] = {
    "sig_figs": sig_figs_cases,
    "negated_qa": negated_qa_cases,
}
CHECKED = settings(max_examples=60, deadline=None)


@CHECKED
@given(redefine_math_cases())
def test_redefine_math_answers_follow_the_new_definition(case: Case) -> None:
    usual = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "×": lambda x, y: x * y, "÷": lambda x, y: x / y}
    by_name = {"addition": usual["+"], "subtraction": usual["-"], "multiplication": usual["×"], "division": usual["÷"]}
    constants = {"π": math.pi, "e": math.e, "φ": (1 + math.sqrt(5)) / 2, "√2": math.sqrt(2)}
    definition = re.match(r"(?:Redefine|From now on,|Let) (\S+) (?:as|means|be) (\w+)", case.prompt)
    assert definition, case.prompt
    symbol, meaning = definition.groups()
    wrong = case.classes[1 - case.answer_index]
    if symbol in constants:
        assert re.search(rf"What is the first digit of {re.escape(symbol)}\? A:$", case.prompt)
        assert case.answer == f" {meaning[0]}" and wrong == f" {str(constants[symbol])[0]}"
    else:
        x, operator, y = re.search(r"What is the first digit of (\d+) (\S) (\d+)\? A:$", case.prompt).groups()
        assert operator == symbol
        for label, value in ((case.answer, by_name[meaning](int(x), int(y))), (wrong, usual[symbol](int(x), int(y)))):
            assert value == int(value) > 0 and label == f" {str(int(value))[0]}"
    assert case.answer != wrong


@CHECKED
@given(sig_figs_cases())
def test_sig_figs_answers_are_recomputed_with_decimal_quantize(case: Case) -> None:
    x_text, n_text, a, b = re.search(
        r"(\d[\d.]*) (?:rounded )?to (\d+) significant \w+[.?]\nA\. ([\d.]+)\nB\. ([\d.]+)\nAnswer:$", case.prompt
    ).groups()
    x, n = Decimal(x_text), int(n_text)
    significant = x.quantize(Decimal(1).scaleb(x.adjusted() - n + 1), rounding=ROUND_HALF_UP)
    places = x.quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP)
    right, wrong = {" A": (a, b), " B": (b, a)}[case.answer]
    assert Decimal(right) == significant and Decimal(wrong) == places
    assert significant != places
    assert len(right.lstrip("0.").replace(".", "")) >= n


@CHECKED
@given(negated_qa_cases(negated=(True, False)))
def test_negated_qa_answer_is_the_outsider_exactly_when_the_question_says_not(case: Case) -> None:
    name, a, b = re.search(
        r"Which of (?:these|the following) is (?:not )?(.+)\?\nA\. (.+)\nB\. (.+)\n", case.prompt
    ).groups()
    category = next(category for category in CATEGORIES if category.name == name)
    negated = f"is not {name}?" in case.prompt
    answer = {" A": a, " B": b}[case.answer]
    other = b if answer == a else a
    assert negated == case.axes["negated"]
    assert (answer in category.outsiders, other in category.members) == (negated, negated)
    assert (answer in category.members, other in category.outsiders) == (not negated, not negated)


@CHECKED
@given(st.sampled_from(CATEGORIES), st.data(), st.booleans())
def test_removing_the_negation_flips_the_answer(category: Any, data: st.DataObject, first: bool) -> None:
    member, outsider = data.draw(st.sampled_from(category.members)), data.draw(st.sampled_from(category.outsiders))
    negated = build_negated_qa_case(category, member, outsider, True, "question", first)
    plain = build_negated_qa_case(category, member, outsider, False, "question", not first)
    assert plain.prompt == negated.prompt.replace(" is not ", " is ") != negated.prompt
    assert plain.answer_index == 1 - negated.answer_index


@pytest.mark.parametrize("name", GENERATORS)
def test_cases_follow_the_prize_convention_and_record_their_answer_position(name: str) -> None:
    cases = draw(GENERATORS[name](), 200)
    for case in cases:
        assert len(case.classes) >= 2 and all(option.startswith(" ") and option.strip() for option in case.classes)
        assert case.prompt == case.prompt.rstrip() and case.axes["answer_position"] == case.answer_index
    assert 0.35 <= Counter(case.answer_index for case in cases)[0] / len(cases) <= 0.65
    assert len({case.id for case in cases}) > len(cases) // 2


@pytest.mark.parametrize("name", GENERATORS)
def test_answer_position_can_be_fixed(name: str) -> None:
    assert {case.answer_index for case in draw(GENERATORS[name](answer_position="second"), 20)} == {1}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: redefine_math_cases(kinds=["constant", "matrix"]),
            "redefine_math_cases(kinds=...) got unknown ['matrix']",
        ),
        (lambda: redefine_math_cases(frames="redefine"), "takes a collection of names"),
        (lambda: sig_figs_cases(min_figures=0), "sig_figs_cases(min_figures=0) needs 1 <= min_figures <= 6"),
        (lambda: sig_figs_cases(min_figures=3, max_figures=2), "sig_figs_cases(max_figures=2) needs 3 <= max_figures"),
        (lambda: sig_figs_cases(magnitudes=["huge"]), "got unknown ['huge']"),
        (lambda: negated_qa_cases(negated=True), "negated_qa_cases(negated=...) takes a non-empty collection"),
    ],
)
def test_invalid_arguments_fail_when_the_strategy_is_built(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        make()


def test_narrowed_axes_are_the_only_ones_drawn() -> None:
    assert {case.axes["kind"] for case in draw(redefine_math_cases(kinds=["operator"]), 30)} == {"operator"}
    assert {case.axes["figures"] for case in draw(sig_figs_cases(min_figures=2, max_figures=2), 30)} == {2}
    assert {case.axes["negated"] for case in draw(negated_qa_cases(negated=(True, False)), 60)} == {True, False}
