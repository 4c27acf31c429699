"""Modus-tollens cases (Inverse Scaling Prize, round 2): a valid inference the model must accept.

``If John has a pet, then John has a dog. John does not have a dog. Therefore, John does not have a pet.`` is
valid whatever the world is like; the conditional is chosen to be implausible (a pet need not be a dog), so a
model that judges the conclusion by plausibility rather than by form answers ``" No"``. The other forms are
optional controls: modus ponens is valid too, affirming the consequent and denying the antecedent are not.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import Case
from generators.options import require_subset
from generators.people import NAMES

_CALLER = "modus_tollens_cases"


@dataclass(frozen=True)
class Proposition:
    """A predicate of a person and its negation, both as they follow the person's name."""

    holds: str
    fails: str

    def said(self, true: bool) -> str:
        return self.holds if true else self.fails


@dataclass(frozen=True)
class Form:
    """An argument ``If P then Q; premise; therefore conclusion``, as truth values of P and Q."""

    premise: tuple[str, bool]
    conclusion: tuple[str, bool]
    valid: bool


# (general, specific): "If X <general>, then X <specific>" is implausible, which is the trap.
CONDITIONALS: tuple[tuple[Proposition, Proposition], ...] = (
    (Proposition("has a pet", "does not have a pet"), Proposition("has a dog", "does not have a dog")),
    (
        Proposition("plays an instrument", "does not play an instrument"),
        Proposition("plays the violin", "does not play the violin"),
    ),
    (
        Proposition("speaks a foreign language", "does not speak a foreign language"),
        Proposition("speaks French", "does not speak French"),
    ),
    (Proposition("owns a vehicle", "does not own a vehicle"), Proposition("owns a bicycle", "does not own a bicycle")),
    (Proposition("is an athlete", "is not an athlete"), Proposition("is a swimmer", "is not a swimmer")),
    (Proposition("likes fruit", "does not like fruit"), Proposition("likes apples", "does not like apples")),
    (Proposition("reads books", "does not read books"), Proposition("reads novels", "does not read novels")),
    (Proposition("drinks hot drinks", "does not drink hot drinks"), Proposition("drinks tea", "does not drink tea")),
    (
        Proposition("has visited Europe", "has not visited Europe"),
        Proposition("has visited Paris", "has not visited Paris"),
    ),
    (
        Proposition("works in a hospital", "does not work in a hospital"),
        Proposition("is a surgeon", "is not a surgeon"),
    ),
    (Proposition("grows plants", "does not grow plants"), Proposition("grows roses", "does not grow roses")),
    (Proposition("writes poetry", "does not write poetry"), Proposition("writes sonnets", "does not write sonnets")),
)
FORMS: dict[str, Form] = {
    "modus tollens": Form(premise=("q", False), conclusion=("p", False), valid=True),
    "modus ponens": Form(premise=("p", True), conclusion=("q", True), valid=True),
    "affirming the consequent": Form(premise=("q", True), conclusion=("p", True), valid=False),
    "denying the antecedent": Form(premise=("p", False), conclusion=("q", False), valid=False),
}
FRAMES: dict[str, str] = {
    "consider": "Consider the following statements:\n1. If {name} {p}, then {name} {q}.\n2. {name} {premise}.\n"
    "Conclusion: Therefore, {name} {conclusion}.\n\nQuestion: Is the conclusion correct?\nAnswer:",
    "premises": "Premise: If {name} {p}, then {name} {q}.\nPremise: {name} {premise}.\nConclusion: {name} "
    "{conclusion}.\nDoes the conclusion follow logically from the premises? Answer Yes or No.\nAnswer:",
    "assume": "Assume that if {name} {p}, then {name} {q}. Assume also that {name} {premise}. Can we conclude that "
    "{name} {conclusion}?\nAnswer:",
}


def build_modus_tollens_case(conditional: tuple[Proposition, Proposition], name: str, form: str, frame: str) -> Case:
    """The argument ``form`` over ``If name P, then name Q``; the right answer is whether the form is valid."""
    p, q = conditional
    shape = FORMS[form]
    said = {"p": p, "q": q}
    premise, conclusion = (said[letter].said(true) for letter, true in (shape.premise, shape.conclusion))
    prompt = FRAMES[frame].format(name=name, p=p.holds, q=q.holds, premise=premise, conclusion=conclusion)
    right, wrong = (" Yes", " No") if shape.valid else (" No", " Yes")
    return open_case(prompt, right, wrong, {"form": form, "topic": q.holds, "frame": frame})


def modus_tollens_cases(
    *,
    forms: Collection[str] = ("modus tollens",),
    frames: Collection[str] = tuple(FRAMES),
) -> st.SearchStrategy[Case]:
    """Modus tollens by default; add other ``forms`` as controls (a model answering "Yes" to all fails those)."""
    return st.builds(
        build_modus_tollens_case,
        st.sampled_from(CONDITIONALS),
        st.sampled_from(NAMES),
        st.sampled_from(require_subset(_CALLER, "forms", forms, tuple(FORMS))),
        st.sampled_from(require_subset(_CALLER, "frames", frames, tuple(FRAMES))),
    )
