"""Repetition-suppression cases (Inverse Scaling Prize, round 1).

The prompt asks for ``n = 2r`` alternating symbols that break the pattern at the end, then shows the first
``2r - 1`` of them (``A, B, A, B, A,``). The completion ``" B"`` follows the pattern; the right answer is the
pattern-violating ``" A"``.

Two axes go beyond the seed. ``period`` repeats a longer cycle (``A, B, C, A, B, C, A, B,``: the completion
``" C"`` follows it, the right answer repeats the last symbol shown, ``" B"``). ``shots`` puts demonstrations
before the question: each is another task of the same period written out in full, its last symbol breaking the
pattern, so the model sees the instruction obeyed. The seed's post reports the inverse trend weakening with shots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from generators.alphabets import ALPHABETS, Pattern
from generators.answers import open_case
from generators.case import AxisValue, Case
from generators.cycles import MAX_PERIOD, Cycle, cycles
from generators.declared import declared_values
from generators.options import require_int, require_optional_bool, require_strategy
from generators.templates import Template, templates

MAX_SHOTS = 16
_CALLER = "repetition_suppression_cases"


def repetitions(*, min_value: int = 3, max_value: int = 10) -> st.SearchStrategy[int]:
    """How many times the pattern repeats (``a, b`` pairs in the seed, which used 3-10); uniform over the range."""
    for name, value in (("min_value", min_value), ("max_value", max_value)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidArgument(f"repetitions({name}=...) takes an int, got {value!r}")
    if not 1 <= min_value <= max_value <= 100:
        raise InvalidArgument(
            f"repetitions(min_value={min_value}, max_value={max_value}) needs 1 <= min_value <= max_value <= 100"
        )
    return st.sampled_from(range(min_value, max_value + 1))


@dataclass(frozen=True)
class RepetitionTask:
    """One instruction and the sequence shown after it: the question of a case, or one of its demonstrations."""

    cycle: Cycle
    repetitions: int
    template: Template

    def __post_init__(self) -> None:
        if self.cycle.period > 2 and not self.template.cyclic:
            raise InvalidArgument(
                f"{_CALLER}: template {self.template.id!r} asks for two alternating symbols, not a cycle of "
                f"{self.cycle.period}; draw templates from templates(cyclic=True) for period > 2"
            )

    @property
    def shown(self) -> list[str]:
        """All ``n = period * repetitions`` symbols but the last."""
        n = self.cycle.period * self.repetitions
        return [self.cycle.symbols[i % self.cycle.period] for i in range(n - 1)]

    @property
    def continuation(self) -> str:
        """The symbol that would continue the pattern: the cycle's last."""
        return self.cycle.symbols[-1]

    @property
    def violation(self) -> str:
        """The pattern-violating answer: the last symbol shown, again (``A, B, A`` then ``A``)."""
        return self.cycle.symbols[-2]

    @property
    def prompt(self) -> str:
        symbols = self.cycle.symbols
        instruction = self.template.render(
            n=self.cycle.period * self.repetitions,
            symbols=self.cycle.listing,
            a=symbols[0],
            b=symbols[1],
            cycle=", ".join(symbols),
            forbidden=self.continuation,
        )
        return f"{instruction}\n{', '.join(self.shown)},"

    @property
    def demonstration(self) -> str:
        """The task done right: its prompt followed by the pattern-violating symbol."""
        return f"{self.prompt} {self.violation}"


def build_repetition_case(
    pattern: Pattern | Cycle,
    repetitions: int,
    template: Template,
    *,
    demonstrations: Sequence[RepetitionTask] = (),
    domains: Mapping[str, Sequence[AxisValue]] | None = None,
) -> Case:
    """The case for one choice of every axis: exposed so tests and other behaviours can build cases directly.

    The options are not listed in the prompt, so the classes take one order: the right answer, then the
    completion."""
    cycle = Cycle.of(pattern) if isinstance(pattern, Pattern) else pattern
    task = RepetitionTask(cycle, repetitions, template)
    prompt = "\n\n".join([*(demo.demonstration for demo in demonstrations), task.prompt])
    axes = {
        "template": template.id,
        "mentions_forbidden": template.mentions_forbidden,
        "alphabet": cycle.alphabet,
        "pattern": " ".join(cycle.symbols),
        "repetitions": repetitions,
        "shots": len(demonstrations),
        "period": cycle.period,
    }
    return open_case(
        prompt,
        " " + task.violation,
        " " + task.continuation,
        axes,
        domains={axis: values for axis, values in (domains or {}).items() if values},
        question=task.prompt if demonstrations else None,
        demonstrations=tuple(demo.prompt for demo in demonstrations),
    )


def repetition_suppression_cases(
    *,
    pattern: st.SearchStrategy[Pattern] | None = None,
    repetition: st.SearchStrategy[int] | None = None,
    template: st.SearchStrategy[Template] | None = None,
    mentions_forbidden: bool | None = None,
    shots: st.SearchStrategy[int] | None = None,
    period: st.SearchStrategy[int] | None = None,
) -> st.SearchStrategy[Case]:
    """Cases of the seed task over every axis; each axis strategy can be narrowed.

    ``mentions_forbidden`` keeps only instructions that do (or don't) name the symbol not to end with; left
    ``None``, it is an axis of its own, drawn first and evenly, then a template of that kind. ``shots`` (e.g.
    ``st.sampled_from([0, 4])``) is how many solved demonstrations precede the question: each uses symbols the
    question does not, so copying a demonstration's answer is never right, and none is the question itself.
    ``period`` (e.g. ``st.sampled_from([2, 3])``) is how many symbols the pattern cycles through; ``pattern`` and
    ``template`` apply to two-symbol patterns, longer cycles draw from ``cycles()`` and the cycle templates.
    """
    options = {"pattern": pattern, "repetition": repetition, "template": template, "shots": shots, "period": period}
    for name, value in options.items():
        if value is not None:
            require_strategy(_CALLER, name, value)
    require_optional_bool(_CALLER, "mentions_forbidden", mentions_forbidden)
    if template is not None and mentions_forbidden is not None:
        raise InvalidArgument(f"{_CALLER}: give template=... or mentions_forbidden=..., not both")
    period = st.just(2) if period is None else period
    shots = st.just(0) if shots is None else shots
    repetition = repetitions() if repetition is None else repetition
    by_period: dict[int, _TaskStrategies] = {}

    def tasks_of(chosen_period: int) -> _TaskStrategies:
        if chosen_period not in by_period:
            cyclic = chosen_period > 2
            kinds = (False, True) if mentions_forbidden is None else (mentions_forbidden,)
            by_kind = {kind: templates(mentions_forbidden=kind, cyclic=cyclic) for kind in kinds}
            chosen_pattern = cycles(period=chosen_period) if cyclic or pattern is None else pattern
            by_period[chosen_period] = _TaskStrategies(
                pattern=chosen_pattern,
                repetition=repetition,
                template=template if template is not None and not cyclic else None,
                templates_by_kind=by_kind,
            )
        return by_period[chosen_period]

    periods = declared_values(period)
    single = periods is not None and len(periods) == 1
    domains = {
        "period": periods,
        "shots": declared_values(shots),
        "repetitions": declared_values(repetition),
        "mentions_forbidden": None
        if template is not None
        else ((False, True) if mentions_forbidden is None else (mentions_forbidden,)),
        # Alphabets are even only within one period (longer cycles fit fewer alphabets), and only by default.
        "alphabet": _alphabet_domain(periods[0]) if single and (pattern is None or periods[0] > 2) else None,
    }
    return _repetition_cases(period=period, shots=shots, tasks_of=tasks_of, domains=domains)


def _alphabet_domain(period: int) -> tuple[str, ...]:
    return tuple(alphabet.name for alphabet in ALPHABETS if len(alphabet.symbols) >= period)


@dataclass(frozen=True)
class _TaskStrategies:
    """How one task (the question, or a demonstration) of one period is drawn."""

    pattern: st.SearchStrategy[Pattern] | st.SearchStrategy[Cycle]
    repetition: st.SearchStrategy[int]
    template: st.SearchStrategy[Template] | None
    templates_by_kind: Mapping[bool, st.SearchStrategy[Template]]

    def draw(self, draw: Callable, *, avoiding: frozenset[str] = frozenset()) -> RepetitionTask:
        if self.template is not None:
            template = draw(self.template)
        else:
            template = draw(self.templates_by_kind[draw(st.sampled_from(tuple(self.templates_by_kind)))])
        chosen = draw(
            self.pattern.filter(lambda drawn: not avoiding & set(_symbols(drawn))) if avoiding else self.pattern
        )
        cycle = Cycle.of(chosen) if isinstance(chosen, Pattern) else chosen
        return RepetitionTask(cycle, draw(self.repetition), template)


def _symbols(drawn: Pattern | Cycle) -> tuple[str, ...]:
    return (drawn.a, drawn.b) if isinstance(drawn, Pattern) else drawn.symbols


@st.composite
def _repetition_cases(
    draw: Callable,
    *,
    period: st.SearchStrategy[int],
    shots: st.SearchStrategy[int],
    tasks_of: Callable[[int], _TaskStrategies],
    domains: Mapping[str, Sequence[AxisValue] | None],
) -> Case:
    """The question (template, pattern, repetitions), then its demonstrations, of one drawn period."""
    chosen_period = require_int(_CALLER, "period", draw(period), 2, MAX_PERIOD)
    count = require_int(_CALLER, "shots", draw(shots), 0, MAX_SHOTS)
    tasks = tasks_of(chosen_period)
    question = tasks.draw(draw)
    shown = frozenset(question.cycle.symbols)
    demonstrations = [tasks.draw(draw, avoiding=shown) for _ in range(count)]
    return build_repetition_case(
        question.cycle,
        question.repetitions,
        question.template,
        demonstrations=demonstrations,
        domains={axis: values for axis, values in domains.items() if values},
    )
