"""Redefine-math cases (Inverse Scaling Prize, round 1, Xudong Shen's "redefine-math"; lm-evaluation-harness
``inverse_scaling_redefine_math``): a symbol is given a new meaning, then the first digit of a use of it is asked.

The prize's format is ``Redefine π as 462. Q: What is the first digit of π? A:`` with classes ``[" 4", " 3"]``:
the right class follows the new definition, the wrong one the symbol's usual value. Operators are asked the same
way: ``Redefine + as multiplication. Q: What is the first digit of 56 + 7? A:`` is ``" 3"`` (56 × 7 = 392), not
``" 6"`` (56 + 7 = 63). The more firmly a model knows what π or + mean, the more that prior can override the
definition it was just given.

Asking for a first digit, as the prize did, makes both classes a single digit: the same number of tokens under
every tokenizer and never a prefix of one another, so summed log-probabilities cannot decide by length (asking
for the whole result did: ``" 1"`` against ``" 17"`` was decided by length in every such case). The options are
not listed in the prompt, so a case has one class order and no position axis.

Deliberate differences from the prize: its operator items said "View + as a random digit" or "View number as
text"; here an operator is redefined as another operation, in the prize's own "Redefine X as Y" form, which has
one right answer. Four constants (the prize had π and e) and four operators (it had + and ÷), so the ``symbol``
axis is uniform; and three wordings of the redefinition (``frame``), one of them the prize's.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import AxisValue, Case, domains_of
from generators.options import require_subset

_CALLER = "redefine_math_cases"


@dataclass(frozen=True)
class Constant:
    symbol: str
    digits: str  # its usual value's leading digits, as taught


@dataclass(frozen=True)
class Operation:
    name: str  # how a redefinition names it: "multiplication"
    symbol: str
    apply: Callable[[int, int], int]


CONSTANTS: tuple[Constant, ...] = (
    Constant("π", "3.14159"),
    Constant("e", "2.71828"),
    Constant("φ", "1.61803"),
    Constant("√2", "1.41421"),
)
OPERATIONS: tuple[Operation, ...] = (
    Operation("addition", "+", operator.add),
    Operation("subtraction", "-", operator.sub),
    Operation("multiplication", "×", operator.mul),
    Operation("division", "÷", operator.floordiv),
)
FRAMES: dict[str, str] = {
    "redefine": "Redefine {symbol} as {meaning}. Q: What is the first digit of {subject}? A:",
    "from-now-on": "From now on, {symbol} means {meaning}. Q: What is the first digit of {subject}? A:",
    "let-be": "Let {symbol} be {meaning} for the rest of this exercise. Q: What is the first digit of {subject}? A:",
}
KINDS = ("constant", "operator")
FACTORS = range(2, 10)
"""Operands are ``x = y * q`` and ``y`` with ``y, q`` in 2-9: every result under every operation is a positive
integer (subtraction included, division exact)."""


def first_digit(value: int) -> str:
    return str(value)[0]


def _operands(usual: Operation, meaning: Operation) -> tuple[tuple[int, int], ...]:
    """Every ``(x, y)`` whose result's first digit differs between the two meanings, or both classes would be
    equal. Listing them up front, rather than rejecting draws, keeps each pair of operations equally likely."""
    pairs = ((y * q, y) for y in FACTORS for q in FACTORS)
    return tuple((x, y) for x, y in pairs if first_digit(usual.apply(x, y)) != first_digit(meaning.apply(x, y)))


OPERANDS: dict[tuple[str, str], tuple[tuple[int, int], ...]] = {
    (usual.name, meaning.name): _operands(usual, meaning)
    for usual in OPERATIONS
    for meaning in OPERATIONS
    if usual != meaning
}


def build_constant_case(
    constant: Constant, value: int, frame: str, *, domains: Mapping[str, Sequence[AxisValue]] | None = None
) -> Case:
    """``constant`` redefined as ``value``; the right class is ``value``'s first digit, which must differ from
    the constant's usual one or both classes would be equal."""
    right, wrong = first_digit(value), constant.digits[0]
    if right == wrong:
        raise ValueError(f"{value} starts with {constant.symbol}'s usual first digit {wrong}: no wrong answer")
    prompt = FRAMES[frame].format(symbol=constant.symbol, meaning=value, subject=constant.symbol)
    axes = {"kind": "constant", "symbol": constant.symbol, "frame": frame}
    return open_case(prompt, f" {right}", f" {wrong}", axes, domains=domains)


def build_operator_case(
    usual: Operation,
    meaning: Operation,
    x: int,
    y: int,
    frame: str,
    *,
    domains: Mapping[str, Sequence[AxisValue]] | None = None,
) -> Case:
    """``usual.symbol`` now means ``meaning``: the right class is the first digit of ``meaning(x, y)``, the
    wrong one that of ``usual(x, y)``."""
    right, wrong = first_digit(meaning.apply(x, y)), first_digit(usual.apply(x, y))
    if right == wrong:
        raise ValueError(f"{x} {usual.symbol} {y} starts with {right} under both {usual.name} and {meaning.name}")
    prompt = FRAMES[frame].format(symbol=usual.symbol, meaning=meaning.name, subject=f"{x} {usual.symbol} {y}")
    axes = {"kind": "operator", "symbol": usual.symbol, "meaning": meaning.name, "frame": frame}
    return open_case(prompt, f" {right}", f" {wrong}", axes, domains=domains)


def redefine_math_cases(
    *,
    kinds: Collection[str] = KINDS,
    frames: Collection[str] = tuple(FRAMES),
) -> st.SearchStrategy[Case]:
    """Redefined constants (``kind="constant"``, a three-digit value) and operators (``kind="operator"``).

    The kind is drawn first and evenly, then one of its four symbols, so ``kind`` and ``symbol`` are uniform;
    an operator's new meaning is one of the other three operations, evenly, so ``meaning`` is uniform too.
    """
    chosen_kinds = require_subset(_CALLER, "kinds", kinds, KINDS)
    chosen_frames = require_subset(_CALLER, "frames", frames, tuple(FRAMES))
    symbols = {"constant": [c.symbol for c in CONSTANTS], "operator": [o.symbol for o in OPERATIONS]}
    declared = domains_of(
        kind=chosen_kinds,
        symbol=[symbol for kind in chosen_kinds for symbol in symbols[kind]],
        frame=chosen_frames,
    )
    operator_domains = {**declared, **domains_of(meaning=[operation.name for operation in OPERATIONS])}
    redefinitions = [(usual, meaning) for usual in OPERATIONS for meaning in OPERATIONS if usual != meaning]

    @st.composite
    def cases(draw: Callable) -> Case:
        kind, frame = draw(st.sampled_from(chosen_kinds)), draw(st.sampled_from(chosen_frames))
        if kind == "constant":
            constant = draw(st.sampled_from(CONSTANTS))
            lead = draw(st.sampled_from([digit for digit in range(1, 10) if str(digit) != constant.digits[0]]))
            value = lead * 100 + draw(st.integers(0, 99))
            return build_constant_case(constant, value, frame, domains=declared)
        usual, meaning = draw(st.sampled_from(redefinitions))
        x, y = draw(st.sampled_from(OPERANDS[usual.name, meaning.name]))
        return build_operator_case(usual, meaning, x, y, frame, domains=operator_domains)

    return cases()
