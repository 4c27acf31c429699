"""Modus-tollens cases (Inverse Scaling Prize, round 2, "modus-tollens"): judge an argument by its form.

The format is the prize's, as released and as lm-evaluation-harness runs it (``inverse_scaling_modus_tollens``:
``doc_to_text: prompt``, ``doc_to_choice: classes``, ``target_delimiter: ""``, the right class must have the
highest log-probability)::

    Consider the following statements:
    1. If John has a pet, then John has a dog.
    2. John doesn't have a dog.
    Conclusion: Therefore, John doesn't have a pet.
    Question: Is the conclusion correct?
    Answer:

with classes ``" Yes"`` and ``" No"``. The prize's second wording (``Consider the following facts:`` ...
``Question: Based on statements 1. and 2., is the conclusion valid?``) is the ``facts`` frame, and, as in the
released data, the conditional is listed first or second. The conditional is implausible (a pet need not be a
dog), so a model that judges the argument by plausibility rather than by form answers No; larger models did so
more often.

**Deliberate difference.** Every released example was a valid modus tollens, so its right answer was always
``" Yes"`` and its pass rate measured a preference for "Yes". Here half the cases are valid and half invalid by
construction (the ``valid`` axis is drawn first, uniformly, then a form of that validity), and the forms come in
pairs that show the *same* second statement and conclusion and differ only in the direction of the conditional:

- modus tollens, ``If pet then dog; no dog; therefore no pet`` (valid) against denying the antecedent,
  ``If dog then pet; no dog; therefore no pet`` (invalid): the default pair;
- modus ponens, ``If pet then dog; pet; therefore dog`` (valid) against affirming the consequent,
  ``If dog then pet; pet; therefore dog`` (invalid): the control pair, with ``forms=tuple(FORMS)``.

So no conclusion is true by world knowledge (having no dog does not make someone petless, having a pet does not
make it a dog), a model that answers by the conclusion's plausibility scores one half, and only reading the
conditional's direction separates valid from invalid. Valid forms keep the prize's implausible conditional (the
trap); the invalid forms' conditional is the plausible one (a dog is a pet), whose invalid conclusions are the
only ones not settled by world knowledge.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import AxisValue, Case, domains_of
from generators.options import require_subset
from generators.people import NAMES

_CALLER = "modus_tollens_cases"


@dataclass(frozen=True)
class Predicate:
    """A predicate of a person and its negation, both as they follow the person's name."""

    holds: str
    fails: str

    def said(self, true: bool) -> str:
        return self.holds if true else self.fails


@dataclass(frozen=True)
class Hierarchy:
    """Two predicates where, by world knowledge, ``specific`` implies ``general`` and not the other way round."""

    general: Predicate
    specific: Predicate

    @property
    def topic(self) -> str:
        return self.specific.holds


@dataclass(frozen=True)
class Form:
    """An argument ``If P then Q; premise; therefore conclusion`` over P and Q, and which way round the
    hierarchy is put into ``If P then Q``."""

    premise: tuple[str, bool]
    conclusion: tuple[str, bool]
    valid: bool

    def letters(self, hierarchy: Hierarchy) -> dict[str, Predicate]:
        """Valid forms take the prize's implausible conditional (general -> specific); invalid forms the
        plausible one (specific -> general), so their conclusions are never true by world knowledge."""
        if self.valid:
            return {"p": hierarchy.general, "q": hierarchy.specific}
        return {"p": hierarchy.specific, "q": hierarchy.general}


def _hierarchy(general: str, general_fails: str, specific: str, specific_fails: str) -> Hierarchy:
    return Hierarchy(Predicate(general, general_fails), Predicate(specific, specific_fails))


HIERARCHIES: tuple[Hierarchy, ...] = (
    _hierarchy("has a pet", "doesn't have a pet", "has a dog", "doesn't have a dog"),
    _hierarchy("has a phone", "doesn't have a phone", "has a Samsung Galaxy", "doesn't have a Samsung Galaxy"),
    _hierarchy("has a jacket", "doesn't have a jacket", "has a leather jacket", "doesn't have a leather jacket"),
    _hierarchy("is a pilot", "is not a pilot", "is a pilot for Air Canada", "is not a pilot for Air Canada"),
    _hierarchy("is a doctor", "is not a doctor", "is a surgeon", "is not a surgeon"),
    _hierarchy("is a musician", "is not a musician", "is a pianist", "is not a pianist"),
    _hierarchy("is a teacher", "is not a teacher", "is a math teacher", "is not a math teacher"),
    _hierarchy("plays an instrument", "doesn't play an instrument", "plays the violin", "doesn't play the violin"),
    _hierarchy("plays a sport", "doesn't play a sport", "plays tennis", "doesn't play tennis"),
    _hierarchy("owns a vehicle", "doesn't own a vehicle", "owns a car", "doesn't own a car"),
    _hierarchy("has a sibling", "doesn't have a sibling", "has a sister", "doesn't have a sister"),
    _hierarchy("has a child", "doesn't have a child", "has a daughter", "doesn't have a daughter"),
    _hierarchy("has visited Europe", "hasn't visited Europe", "has visited Paris", "hasn't visited Paris"),
    _hierarchy("lives in Italy", "doesn't live in Italy", "lives in Rome", "doesn't live in Rome"),
    _hierarchy("likes fruit", "doesn't like fruit", "likes mangoes", "doesn't like mangoes"),
    _hierarchy("reads books", "doesn't read books", "reads novels", "doesn't read novels"),
    _hierarchy("grows plants", "doesn't grow plants", "grows roses", "doesn't grow roses"),
    _hierarchy("writes poetry", "doesn't write poetry", "writes sonnets", "doesn't write sonnets"),
    _hierarchy(
        "has a university degree",
        "doesn't have a university degree",
        "has a degree in chemistry",
        "doesn't have a degree in chemistry",
    ),
    _hierarchy("drinks hot drinks", "doesn't drink hot drinks", "drinks hot chocolate", "doesn't drink hot chocolate"),
)
FORMS: dict[str, Form] = {
    "modus tollens": Form(premise=("q", False), conclusion=("p", False), valid=True),
    "denying the antecedent": Form(premise=("p", False), conclusion=("q", False), valid=False),
    "modus ponens": Form(premise=("p", True), conclusion=("q", True), valid=True),
    "affirming the consequent": Form(premise=("q", True), conclusion=("p", True), valid=False),
}
DEFAULT_FORMS = ("modus tollens", "denying the antecedent")
FRAMES: dict[str, tuple[str, str]] = {
    "statements": ("Consider the following statements:", "Is the conclusion correct?"),
    "facts": ("Consider the following facts:", "Based on statements 1. and 2., is the conclusion valid?"),
}
"""The prize's two wordings: (what introduces the statements, the question)."""


def build_modus_tollens_case(
    hierarchy: Hierarchy,
    name: str,
    form: str,
    frame: str,
    conditional_first: bool,
    *,
    domains: Mapping[str, Sequence[AxisValue]] | None = None,
) -> Case:
    """The argument ``form`` about ``name`` over ``hierarchy``; the right answer is whether the form is valid."""
    shape = FORMS[form]
    said = shape.letters(hierarchy)
    premise, conclusion = (said[letter].said(true) for letter, true in (shape.premise, shape.conclusion))
    conditional = f"If {name} {said['p'].holds}, then {name} {said['q'].holds}."
    fact = f"{name} {premise}."
    first, second = (conditional, fact) if conditional_first else (fact, conditional)
    opening, question = FRAMES[frame]
    prompt = (
        f"{opening}\n1. {first}\n2. {second}\nConclusion: Therefore, {name} {conclusion}.\n"
        f"Question: {question}\nAnswer:"
    )
    right, wrong = (" Yes", " No") if shape.valid else (" No", " Yes")
    axes = {
        "valid": shape.valid,
        "form": form,
        "frame": frame,
        "conditional_first": conditional_first,
        "topic": hierarchy.topic,
        "name": name,
    }
    return open_case(prompt, right, wrong, axes, domains=domains)


def modus_tollens_cases(
    *,
    forms: Collection[str] = DEFAULT_FORMS,
    frames: Collection[str] = tuple(FRAMES),
) -> st.SearchStrategy[Case]:
    """Modus tollens against denying the antecedent by default; ``forms=tuple(FORMS)`` adds the modus ponens
    pair. Validity is drawn first and evenly whenever both validities are among ``forms``, then a form of it."""
    chosen = require_subset(_CALLER, "forms", forms, tuple(FORMS))
    groups = {valid: tuple(form for form in chosen if FORMS[form].valid == valid) for valid in (True, False)}
    by_validity = {valid: group for valid, group in groups.items() if group}
    chosen_frames = require_subset(_CALLER, "frames", frames, tuple(FRAMES))
    domains = domains_of(
        valid=tuple(by_validity),
        frame=chosen_frames,
        conditional_first=(True, False),
        topic=tuple(hierarchy.topic for hierarchy in HIERARCHIES),
        name=NAMES,
    )
    if len({len(group) for group in by_validity.values()}) == 1:
        # Forms are equally likely only when each validity has as many forms as the other.
        domains["form"] = tuple(form for group in by_validity.values() for form in group)
    return _modus_tollens_cases(by_validity=by_validity, frames=chosen_frames, domains=domains)


@st.composite
def _modus_tollens_cases(
    draw: Callable,
    *,
    by_validity: Mapping[bool, tuple[str, ...]],
    frames: tuple[str, ...],
    domains: Mapping[str, Sequence[AxisValue]],
) -> Case:
    valid = draw(st.sampled_from(tuple(by_validity)))
    return build_modus_tollens_case(
        draw(st.sampled_from(HIERARCHIES)),
        draw(st.sampled_from(NAMES)),
        draw(st.sampled_from(by_validity[valid])),
        draw(st.sampled_from(frames)),
        draw(st.booleans()),
        domains=domains,
    )
