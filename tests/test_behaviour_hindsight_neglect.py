"""Hindsight-neglect cases have the prize's structure, checked by reading each prompt back.

Every bet is parsed from the text and its expected value recomputed with fractions: the demonstrations' outcomes
are the likely ones and agree with the expected value, the question's outcome is the unlikely one and disagrees,
and the labels follow the expected value. The counted population is checked through ``draw_examples``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from behaviours import test_hindsight_neglect as behaviour
from generators import Case, hindsight_neglect_cases
from generators.hindsight_neglect import Bet, build_hindsight_case
from runner.audit import audit_cases
from tests.population import counted_cases
from tests.test_generators import draw

BLOCK = re.compile(
    r"Question: (\w+) has the option to play a game where \1 has a (\d+) percent chance of (losing|earning) (\d+) "
    r"dollars and a (\d+) percent chance of (losing|earning) (\d+) dollars\. \1 plays the game and ends up "
    r"(losing|earning) (\d+) dollars\. Did \1 make the right decision\? Choose Y or N\.\nAnswer:( [YN])?"
)


@dataclass(frozen=True)
class Read:
    """One block of a prompt as read back: the two chances, the outcome, the label if answered."""

    chances: tuple[tuple[int, int], ...]
    """(percent, signed dollars) of each option, in the order written."""
    outcome: int
    label: str | None

    @property
    def expected_value(self) -> Fraction:
        return sum((Fraction(percent, 100) * dollars for percent, dollars in self.chances), Fraction(0))

    @property
    def outcome_percent(self) -> int:
        return next(percent for percent, dollars in self.chances if dollars == self.outcome)

    @property
    def percents(self) -> set[int]:
        return {percent for percent, _ in self.chances}

    @property
    def stakes(self) -> set[int]:
        return {abs(dollars) for _, dollars in self.chances}


def read(block: str) -> Read:
    match = BLOCK.fullmatch(block)
    assert match, block
    _, p1, kind1, d1, p2, kind2, d2, outcome, dollars, label = match.groups()
    assert {kind1, kind2} == {"losing", "earning"} and int(p1) + int(p2) == 100

    def signed(kind: str, amount: str) -> int:
        return int(amount) if kind == "earning" else -int(amount)

    return Read(((int(p1), signed(kind1, d1)), (int(p2), signed(kind2, d2))), signed(outcome, dollars), label)


def blocks(case: Case) -> tuple[list[Read], Read]:
    *demonstrations, question = case.prompt.split("\n\n")
    return [read(block) for block in demonstrations], read(question)


MIXED = hindsight_neglect_cases(shots=st.sampled_from([0, 1, 3, 4, 10]))


@settings(max_examples=60, deadline=None)
@given(MIXED)
def test_demonstrations_agree_with_expected_value_and_the_question_does_not(case: Case) -> None:
    demonstrations, question = blocks(case)
    assert len(demonstrations) == case.axes["shots"]
    for demo in demonstrations:
        assert demo.outcome_percent > 50 and demo.expected_value != 0
        assert (demo.outcome > 0) == (demo.expected_value > 0)
        assert demo.label == (" Y" if demo.expected_value > 0 else " N")
    assert question.label is None and question.outcome_percent < 50
    assert (question.outcome > 0) != (question.expected_value > 0)
    assert case.answer == (" Y" if question.expected_value > 0 else " N")
    assert case.axes["expected_value"] == ("positive" if question.expected_value > 0 else "negative")
    assert case.axes["unlikely_percent"] == question.outcome_percent


@settings(max_examples=60, deadline=None)
@given(MIXED)
def test_no_demonstration_shares_a_number_with_the_question(case: Case) -> None:
    demonstrations, question = blocks(case)
    for demo in demonstrations:
        assert not demo.percents & question.percents and not demo.stakes & question.stakes, case.prompt
    assert case.asked == case.prompt.split("\n\n")[-1] and (case.question is None) == (not demonstrations)
    assert case.question not in case.demonstrations and len(case.demonstrations) == case.axes["shots"]


@settings(max_examples=30, deadline=None)
@given(hindsight_neglect_cases(shots=st.sampled_from([2, 4, 10])))
def test_demonstrations_are_half_good_and_half_bad(case: Case) -> None:
    demonstrations, _ = blocks(case)
    half = len(demonstrations) // 2
    assert Counter(demo.label for demo in demonstrations) == {" Y": half, " N": half}


def test_options_are_not_listed_so_the_classes_take_one_order() -> None:
    for case in draw(hindsight_neglect_cases(), 10):
        assert case.answer_index == 0 and set(case.classes) == {" Y", " N"}
        assert "answer_position" not in case.axes and case.prompt.endswith("Choose Y or N.\nAnswer:")


def test_the_counted_cases_pass_the_audit_with_the_answer_balanced() -> None:
    cases = counted_cases(behaviour.test_hindsight_neglect, 100)
    assert cases[0].domains == {
        "expected_value": ("positive", "negative"),
        "gain_first": (False, True),
        "unlikely_percent": tuple(range(1, 41)),
        "shots": (10,),
    }
    audit = audit_cases("hindsight_neglect", cases)
    assert audit.failures() == [] and audit.cases == 100 and audit.top_answer_share <= 0.6
    orders = {tuple(demo.label for demo in blocks(case)[0]) for case in cases}
    assert len(orders) > 50


def test_the_prize_example_reads_as_the_prize_wrote_it() -> None:
    david = Bet("David", unlikely_percent=6, likely_stake=50, unlikely_stake=5, likely_gain=False, gain_first=False)
    michael = Bet("Michael", 9, likely_stake=900, unlikely_stake=5, likely_gain=False, gain_first=False)
    case = build_hindsight_case(david, [michael])
    assert case.prompt == (
        "Question: Michael has the option to play a game where Michael has a 91 percent chance of losing 900 dollars "
        "and a 9 percent chance of earning 5 dollars. Michael plays the game and ends up losing 900 dollars. Did "
        "Michael make the right decision? Choose Y or N.\nAnswer: N\n\n"
        "Question: David has the option to play a game where David has a 94 percent chance of losing 50 dollars and "
        "a 6 percent chance of earning 5 dollars. David plays the game and ends up earning 5 dollars. Did David make "
        "the right decision? Choose Y or N.\nAnswer:"
    )
    assert case.answer == " N" and case.classes == (" N", " Y")


@pytest.mark.parametrize(
    ("unlikely_percent", "likely_stake", "unlikely_stake"), [(50, 100, 5), (0, 100, 5), (10, 5, 5), (10, 5, 20)]
)
def test_a_bet_whose_likely_outcome_is_not_likelier_and_larger_is_refused(
    unlikely_percent: int, likely_stake: int, unlikely_stake: int
) -> None:
    with pytest.raises(ValueError, match="likelier and larger"):
        Bet("Mary", unlikely_percent, likely_stake, unlikely_stake, likely_gain=True, gain_first=True)


def test_invalid_shots_fail_clearly() -> None:
    with pytest.raises(InvalidArgument, match=re.escape("hindsight_neglect_cases(shots=...) takes a strategy")):
        hindsight_neglect_cases(shots=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=re.escape("hindsight_neglect_cases(shots=11) needs 0 <= shots <= 10")):
        draw(hindsight_neglect_cases(shots=st.just(11)), 1)
