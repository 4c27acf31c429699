"""Negated QA keeps the prize's NeQA layout, asks only undisputed questions, and counts a declared population."""

from __future__ import annotations

from collections import Counter

import behaviours.test_negated_qa as behaviour
from generators.negated_qa import CATEGORIES, build_negated_qa_case
from runner.sampling import draw_examples

DISPUTED: dict[str, set[str]] = {
    "a planet": {"Pluto"},
    "a vegetable": {"potato", "tomato", "sweetcorn", "corn", "pumpkin", "avocado"},
    "a colour": {"white", "black", "grey", "gray"},
    "a musical instrument": {"spoon", "spoons", "bucket", "kettle", "saw", "comb", "bottle", "whistle"},
    "an insect": {"worm", "caterpillar", "larva"},
    "a prime number": {"1"},
    "a metal": {"steel", "brass", "bronze"},
}
"""Options a reasonable reader could argue either way (potatoes are not one of the UK's five a day, black is "the
absence of colour", spoons and a bucket are played, a silkworm is an insect); none may appear in a category."""


def test_every_category_has_distinct_members_and_outsiders_and_nothing_disputed() -> None:
    assert len({category.name for category in CATEGORIES}) == len(CATEGORIES)
    for category in CATEGORIES:
        members, outsiders = set(category.members), set(category.outsiders)
        assert len(members) == len(category.members) and len(outsiders) == len(category.outsiders)
        assert not members & outsiders, category.name
        assert not (members | outsiders) & DISPUTED.get(category.name, set()), category.name


def test_the_neqa_frame_is_the_prize_layout() -> None:
    mammal = next(category for category in CATEGORIES if category.name == "a mammal")
    case = build_negated_qa_case(mammal, "horse", "trout", True, "neqa", False)
    assert case.prompt == (
        "The following are multiple choice questions (with answers) about common sense.\n\n"
        "Question: Which of these is not a mammal?\nA. horse\nB. trout\nAnswer:"
    )
    assert case.classes == (" A", " B") and case.answer == " B" and case.axes["answer_position"] == 1


def test_the_counted_cases_balance_the_letter_and_declare_their_axes() -> None:
    cases = [example.cases["case"] for example in draw_examples(behaviour.test_negated_qa, seed=0, count=200)]
    assert len({case.id for case in cases}) == len(cases) == 200
    assert 0.4 <= Counter(case.answer for case in cases)[" A"] / len(cases) <= 0.6
    domains = cases[0].domains
    assert domains["category"] == tuple(category.name for category in CATEGORIES)
    assert domains["negated"] == (True,) and domains["frame"] == ("question", "following", "neqa")
    assert domains["answer_position"] == (0, 1)
    assert all(case.axes["answer_position"] == case.answer_index for case in cases)
