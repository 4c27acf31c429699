"""Negated QA keeps the prize's NeQA layout, asks only undisputed questions, and counts a declared population."""

from __future__ import annotations

from behaviours import test_negated_qa as behaviour
from generators.negated_qa import CATEGORIES, build_negated_qa_case
from runner.audit import audit_cases
from tests.population import counted_cases

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


def test_the_counted_cases_pass_the_audit_with_the_letter_balanced() -> None:
    cases = counted_cases(behaviour.test_negated_qa)
    assert cases[0].domains == {
        "category": tuple(category.name for category in CATEGORIES),
        "negated": (True,),
        "frame": ("question", "following", "neqa"),
        "answer_position": (0, 1),
    }
    audit = audit_cases("negated_qa", cases)
    assert audit.failures() == [] and audit.cases == 200 and audit.top_answer_share <= 0.6
    assert all(case.axes["answer_position"] == case.answer_index for case in cases)
