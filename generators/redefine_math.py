"""Redefine-math cases (Inverse Scaling Prize, round 1): a symbol is given a new meaning, then used.

``Redefine π as 462. Q: What is the first digit of π?`` must be answered ``" 4"``, not ``" 3"``; ``Redefine + as
multiplication. Q: What is 4 + 7?`` must be answered ``" 28"``, not ``" 11"``. The wrong class is always what
the symbol usually means, so the case measures whether the prompt's definition beats the memorised one.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection
from dataclasses import dataclass

from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import Case
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
)
FRAMES: dict[str, str] = {
    "redefine": "Redefine {symbol} as {meaning}. Q: {question}\nA:",
    "from-now-on": "From now on, {symbol} means {meaning}. {question}\nAnswer:",
    "let-be": "Let {symbol} be {meaning} for the rest of this exercise. {question}\nA:",
}
KINDS = ("constant", "operator")


def build_constant_case(constant: Constant, value: int, frame: str) -> Case:
    """``value``'s first digit must differ from the constant's usual one, or both classes would be equal."""
    question = f"What is the first digit of {constant.symbol}?"
    prompt = FRAMES[frame].format(symbol=constant.symbol, meaning=value, question=question)
    axes = {"kind": "constant", "symbol": constant.symbol, "frame": frame}
    return open_case(prompt, f" {str(value)[0]}", f" {constant.digits[0]}", axes)


def build_operator_case(usual: Operation, meaning: Operation, x: int, y: int, frame: str) -> Case:
    """``usual.symbol`` now means ``meaning``: ``x symbol y`` is ``meaning(x, y)``, not ``usual(x, y)``."""
    question = f"What is {x} {usual.symbol} {y}?"
    prompt = FRAMES[frame].format(symbol=usual.symbol, meaning=meaning.name, question=question)
    axes = {"kind": "operator", "symbol": usual.symbol, "meaning": meaning.name, "frame": frame}
    return open_case(prompt, f" {meaning.apply(x, y)}", f" {usual.apply(x, y)}", axes)


def _constant_cases(frames: st.SearchStrategy[str]) -> st.SearchStrategy[Case]:
    def with_value(constant: Constant) -> st.SearchStrategy[Case]:
        values = st.integers(100, 999).filter(lambda value: str(value)[0] != constant.digits[0])
        return st.builds(build_constant_case, st.just(constant), values, frames)

    return st.sampled_from(CONSTANTS).flatmap(with_value)


def _operator_cases(frames: st.SearchStrategy[str]) -> st.SearchStrategy[Case]:
    pairs = st.sampled_from([(usual, meaning) for usual in OPERATIONS for meaning in OPERATIONS if usual != meaning])

    @st.composite
    def cases(draw: Callable) -> Case:
        usual, meaning = draw(pairs)
        y = draw(st.integers(2, 9))
        x = draw(st.integers(y + 1, 12).filter(lambda x: usual.apply(x, y) != meaning.apply(x, y)))
        return build_operator_case(usual, meaning, x, y, draw(frames))

    return cases()


def redefine_math_cases(
    *,
    kinds: Collection[str] = KINDS,
    frames: Collection[str] = tuple(FRAMES),
) -> st.SearchStrategy[Case]:
    """Redefined constants (``kind="constant"``) and operators (``kind="operator"``), in a few wordings.

    Operands keep every result a non-negative integer (``x > y``) and different under the two meanings.
    """
    chosen_kinds = require_subset(_CALLER, "kinds", kinds, KINDS)
    chosen_frames = st.sampled_from(require_subset(_CALLER, "frames", frames, tuple(FRAMES)))
    by_kind = {"constant": _constant_cases, "operator": _operator_cases}
    return st.one_of([by_kind[kind](chosen_frames) for kind in chosen_kinds])
