"""The validity audit: what else could decide a behaviour's pass rate, measured on the very cases it counts.

A pass rate is evidence about a behaviour only if nothing but the behaviour decides it. Per behaviour, over its
drawn cases, the audit measures:

(a) ``prefix_cases``: cases where one class's continuation tokens are a prefix of another's, per tokenizer
    (summed log-probs then favour the shorter class whatever the model knows);
(b) ``duplicates``: questions counted more than once (same prompt, same set of classes);
(c) ``top_answer_share``: the share of the most common right answer (a constant answer measures a preference);
(d) ``leaked``: few-shot prompts that show their own question, answered, as a demonstration;
(e) ``axes``: per axis, the drawn frequencies and a chi-square test against the declared (uniform) domain;
(f) ``prior_rate``: per model, the pass rate when the same classes are scored after content-free prompts
    (contextual calibration, Zhao et al. 2021): how much of a rate an answer prior alone explains.

Every figure is data (``BehaviourAudit.to_dict``); ``failures()`` words the checks that fail, one line each.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generators.case import Case
from reports.stats import chi_square_uniform

AXIS_ALPHA = 0.001
"""An axis fails when its chi-square p-value against the declared domain is below this."""
MIN_EXPECTED = 5
"""Cochran's rule: the chi-square approximation needs at least this many expected draws per value; an axis with
more values than that allows (40 percentages over 100 cases) is tabulated, not tested."""
MAX_TOP_SHARE = 0.6
"""With at most ``FEW_ANSWERS`` distinct right answers, no one of them may be right more often than this."""
FEW_ANSWERS = 4
CONTENT_FREE = ("N/A", "[MASK]", "")
"""Zhao et al.'s content-free inputs: the prior of a class is its probability averaged over them."""

Encoder = Callable[[str, str], tuple[list[int], list[int]]]
Scorer = Callable[[Sequence[tuple[str, str]]], list[float]]


@dataclass(frozen=True)
class AxisCheck:
    """One axis: how often each value was drawn, against the values the generator declared."""

    axis: str
    counts: Mapping[str, int]
    declared: tuple[str, ...] | None
    p_value: float | None

    @property
    def uniform(self) -> bool | None:
        return None if self.p_value is None else self.p_value >= AXIS_ALPHA

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "declared": self.declared, "p_value": self.p_value}


@dataclass
class BehaviourAudit:
    """The audit of one behaviour's drawn cases; per-model figures are filled in as each model is seen."""

    behaviour: str
    cases: int
    duplicates: int
    distinct_answers: int
    top_answer: str | None
    top_answer_share: float
    leaked: int
    axes: list[AxisCheck]
    prefix_cases: dict[str, int | None] = field(default_factory=dict)
    prior_rate: dict[str, float | None] = field(default_factory=dict)

    def failures(self) -> list[str]:
        """One line per failed check, naming the figure and what it means."""
        lines = []
        for model, count in self.prefix_cases.items():
            if count:
                lines.append(
                    f"{count} of {self.cases} cases have a class whose tokens are a prefix of another's under "
                    f"{model}'s tokenizer: summed log-probs decide them by length"
                )
        if self.duplicates:
            lines.append(f"{self.duplicates} questions are counted more than once")
        if self.distinct_answers <= FEW_ANSWERS and self.top_answer_share > MAX_TOP_SHARE:
            lines.append(
                f"the right answer is {self.top_answer!r} in {self.top_answer_share:.0%} of cases: the rate measures "
                "a preference for it"
            )
        if self.leaked:
            lines.append(f"{self.leaked} prompts show their own question, answered, among the demonstrations")
        for axis in self.axes:
            if axis.uniform is False:
                lines.append(
                    f"axis {axis.axis!r} departs from its declared uniform distribution "
                    f"(chi-square p={axis.p_value:.2g}): {dict(axis.counts)}"
                )
        return [f"{self.behaviour}: {line}" for line in lines]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "prefix_cases": self.prefix_cases,
            "duplicates": self.duplicates,
            "distinct_answers": self.distinct_answers,
            "top_answer": self.top_answer,
            "top_answer_share": self.top_answer_share,
            "leaked": self.leaked,
            "axes": {axis.axis: axis.to_dict() for axis in self.axes},
            "prior_rate": self.prior_rate,
            "failures": self.failures(),
        }


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _axis_checks(cases: Sequence[Case]) -> list[AxisCheck]:
    names = list(dict.fromkeys(axis for case in cases for axis in case.axes))
    checks = []
    for name in names:
        counts = Counter(str(case.axes[name]) for case in cases if name in case.axes)
        domains = {tuple(case.domains[name]) for case in cases if name in case.domains}
        declared = tuple(str(value) for value in domains.pop()) if len(domains) == 1 else None
        p_value = None
        tested = sum(counts.values())
        if declared is not None and len(declared) > 1 and tested >= MIN_EXPECTED * len(declared):
            p_value = chi_square_uniform([counts.get(value, 0) for value in declared])[1]
        ordered = {value: counts.get(value, 0) for value in declared} if declared else dict(sorted(counts.items()))
        checks.append(AxisCheck(name, ordered, declared, p_value))
    return checks


def audit_cases(behaviour: str, cases: Sequence[Case]) -> BehaviourAudit:
    """The model-free checks (b)-(e) over the cases a behaviour counts (each example's first case)."""
    questions = Counter((case.prompt, frozenset(case.classes)) for case in cases)
    answers = Counter(case.answer for case in cases)
    top, top_count = answers.most_common(1)[0] if answers else (None, 0)
    leaked = sum(
        _normalised(case.asked) in {_normalised(shown) for shown in case.demonstrations}
        for case in cases
        if case.demonstrations
    )
    return BehaviourAudit(
        behaviour=behaviour,
        cases=len(cases),
        duplicates=sum(count - 1 for count in questions.values()),
        distinct_answers=len(answers),
        top_answer=top,
        top_answer_share=top_count / len(cases) if cases else 0.0,
        leaked=leaked,
        axes=_axis_checks(cases),
    )


def prefix_cases(cases: Iterable[Case], encode: Encoder) -> int:
    """Cases where one class's continuation tokens (as scored after the prompt) start another class's."""
    count = 0
    for case in cases:
        tokens = [tuple(encode(case.prompt, option)[1]) for option in case.classes if option]
        if any(a != b and b[: len(a)] == a for a in tokens for b in tokens):
            count += 1
    return count


def prior_rate(cases: Sequence[Case], score: Scorer) -> float | None:
    """Share of cases whose right class also wins after content-free prompts alone (None: no scorable case)."""
    scorable = [case for case in cases if all(case.classes)]
    if not scorable:
        return None
    options = sorted({option for case in scorable for option in case.classes})
    requests = [(prompt, option) for option in options for prompt in CONTENT_FREE]
    values = dict(zip(requests, score(requests), strict=True))

    def prior(option: str) -> float:
        return math.log(sum(math.exp(values[prompt, option]) for prompt in CONTENT_FREE) / len(CONTENT_FREE))

    priors = {option: prior(option) for option in options}
    wins = sum(
        all(priors[case.answer] > priors[other] for other in case.classes if other != case.answer) for case in scorable
    )
    return wins / len(scorable)
