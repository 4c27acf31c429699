"""Modus-tollens cases are right by construction, checked by rules independent of the generator.

Each prompt is read back: its validity decided by truth table, its conclusion checked against world knowledge
(the specific predicate implies the general one), and the population checked for what the rate relies on: as
many Yes as No answers, and twin forms that differ only in the conditional.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis.errors import InvalidArgument

from behaviours import test_modus_tollens as behaviour
from generators import Case, modus_tollens_cases
from generators.modus_tollens import FORMS, HIERARCHIES, build_modus_tollens_case
from runner.sampling import draw_examples
from tests.test_generators import draw

CHECKED = settings(max_examples=80, deadline=None)


def _statement(text: str) -> tuple[str, bool]:
    """``has a dog`` or ``doesn't have a dog`` as (predicate, truth) over the generator's vocabulary."""
    for hierarchy in HIERARCHIES:
        for predicate in (hierarchy.general, hierarchy.specific):
            if text in (predicate.holds, predicate.fails):
                return predicate.holds, text == predicate.holds
    raise AssertionError(f"unknown statement {text!r}")


def _read(case: Case) -> tuple[str, str, tuple[str, bool], tuple[str, bool]]:
    """(antecedent, consequent, second statement, conclusion) as the prompt states them."""
    conditional = re.search(r"\d\. If (\w+) (.+?), then \1 (.+?)\.\n", case.prompt)
    name, p, q = conditional.groups()
    fact = re.search(rf"\d\. {name} ([^\n]+)\.\n", case.prompt.replace(conditional.group(0), ""))
    conclusion = re.search(rf"Conclusion: Therefore, {name} ([^\n]+)\.\n", case.prompt)
    return p, q, _statement(fact.group(1)), _statement(conclusion.group(1))


def _follows(worlds: list[dict[str, bool]], fact: tuple[str, bool], conclusion: tuple[str, bool]) -> bool:
    """Whether the conclusion holds in every world where the fact does."""
    return all(world[conclusion[0]] == conclusion[1] for world in worlds if world[fact[0]] == fact[1])


@CHECKED
@given(modus_tollens_cases(forms=tuple(FORMS)))
def test_the_answer_is_the_validity_decided_by_truth_table(case: Case) -> None:
    p, q, fact, conclusion = _read(case)
    worlds = [dict(zip((p, q), truth, strict=True)) for truth in itertools.product([True, False], repeat=2)]
    valid = _follows([world for world in worlds if not world[p] or world[q]], fact, conclusion)
    assert case.answer == (" Yes" if valid else " No") and case.axes["valid"] == valid
    assert set(case.classes) == {" Yes", " No"}


@CHECKED
@given(modus_tollens_cases(forms=tuple(FORMS)))
def test_no_conclusion_is_settled_by_world_knowledge_alone(case: Case) -> None:
    """Without the conditional, knowing that the specific predicate implies the general one (a dog is a pet)
    never yields the conclusion: a model answering from world knowledge cannot tell valid from invalid."""
    _, _, fact, conclusion = _read(case)
    hierarchy = next(h for h in HIERARCHIES if fact[0] in (h.general.holds, h.specific.holds))
    general, specific = hierarchy.general.holds, hierarchy.specific.holds
    worlds = [{general: g, specific: s} for g, s in itertools.product([True, False], repeat=2) if g or not s]
    assert not _follows(worlds, fact, conclusion)


@pytest.mark.parametrize(
    ("valid", "invalid"), [("modus tollens", "denying the antecedent"), ("modus ponens", "affirming the consequent")]
)
def test_twin_forms_differ_only_in_the_conditional(valid: str, invalid: str) -> None:
    for hierarchy in HIERARCHIES:
        yes, no = (build_modus_tollens_case(hierarchy, "Mei", form, "statements", True) for form in (valid, invalid))
        yes_lines, no_lines = yes.prompt.split("\n"), no.prompt.split("\n")
        assert [i for i, (a, b) in enumerate(zip(yes_lines, no_lines, strict=True)) if a != b] == [1]
        assert (yes.answer, no.answer) == (" Yes", " No")


def test_the_counted_examples_answer_yes_as_often_as_no() -> None:
    cases = [example.arguments["case"] for example in draw_examples(behaviour.test_modus_tollens, seed=0, count=200)]
    assert len({case.id for case in cases}) == 200
    answers = Counter(case.answer for case in cases)
    assert set(answers) == {" Yes", " No"} and max(answers.values()) <= 120
    assert Counter(case.axes["form"] for case in cases).keys() == {"modus tollens", "denying the antecedent"}
    assert cases[0].domains["valid"] == (True, False)
    assert cases[0].domains["form"] == ("modus tollens", "denying the antecedent")


def test_forms_are_declared_only_when_each_is_drawn_equally_often() -> None:
    only_valid = draw(modus_tollens_cases(forms=["modus tollens"]), 20)
    assert {case.answer for case in only_valid} == {" Yes"}
    assert only_valid[0].domains["valid"] == (True,) and only_valid[0].domains["form"] == ("modus tollens",)
    lopsided = draw(modus_tollens_cases(forms=["modus tollens", "modus ponens", "affirming the consequent"]), 5)
    assert "form" not in lopsided[0].domains and lopsided[0].domains["valid"] == (True, False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"forms": []}, "modus_tollens_cases(forms=...) selects nothing"),
        ({"forms": "modus tollens"}, "modus_tollens_cases(forms=...) takes a collection of names"),
        ({"forms": ["modus morons"]}, "modus_tollens_cases(forms=...) got unknown ['modus morons']"),
        ({"frames": ["assume"]}, "modus_tollens_cases(frames=...) got unknown ['assume']"),
    ],
)
def test_invalid_options_fail_when_the_strategy_is_built(options: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        modus_tollens_cases(**options)
