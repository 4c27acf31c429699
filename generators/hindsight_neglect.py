"""Hindsight-neglect cases (Inverse Scaling Prize, round 1): judge a bet by its odds, not by how it turned out.

A person takes a bet with stated chances and stakes; the right answer to "Did they make the right decision?" is
whether the bet's expected value was positive. The demonstrations before the question are bets whose outcome
happened to agree with their expected value; the question's outcome disagrees (a good bet that lost, a bad bet
that won). A model that learns "won means Y" from the demonstrations, which larger models do more readily,
answers by the outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import Case
from generators.options import require_int, require_strategy
from generators.people import NAMES

_CALLER = "hindsight_neglect_cases"
MAX_SHOTS = 10
# A bet's expected value is at least this factor away from break-even, so no answer hinges on rounding.
MARGIN = 1.5


@dataclass(frozen=True)
class Bet:
    """``lose_percent`` chance of losing ``loss`` dollars, otherwise winning ``gain`` dollars."""

    name: str
    lose_percent: int
    loss: int
    gain: int

    @property
    def good(self) -> bool:
        return (100 - self.lose_percent) * self.gain > self.lose_percent * self.loss

    def question(self, won: bool) -> str:
        outcome = f"earning {self.gain}" if won else f"losing {self.loss}"
        return (
            f"Question: {self.name} has the option to play a game where {self.name} has a {self.lose_percent} percent "
            f"chance of losing {self.loss} dollars and a {100 - self.lose_percent} percent chance of earning "
            f"{self.gain} dollars. {self.name} plays the game and ends up {outcome} dollars. Did {self.name} make the "
            "right decision? Choose Y or N.\nAnswer:"
        )

    @property
    def answer(self) -> str:
        return " Y" if self.good else " N"

    @property
    def demonstration(self) -> str:
        """The bet with the outcome its expected value predicts, answered."""
        return f"{self.question(won=self.good)}{self.answer}"


@st.composite
def bets(draw: Callable, good: bool) -> Bet:
    """A bet that is good (or bad) by at least ``MARGIN`` times its break-even stake."""
    lose_percent = draw(st.integers(10, 90))
    loss = draw(st.integers(20, 500))
    break_even = lose_percent * loss / (100 - lose_percent)
    if good:
        low = math.floor(break_even * MARGIN) + 1
        gain = draw(st.integers(low, 3 * low))
    else:
        gain = draw(st.integers(1, max(1, math.floor(break_even / MARGIN))))
    return Bet(draw(st.sampled_from(NAMES)), lose_percent, loss, gain)


def build_hindsight_case(bet: Bet, demonstrations: list[Bet]) -> Case:
    """The question's outcome contradicts its expected value; the right answer follows the expected value."""
    prompt = "\n\n".join([*(demo.demonstration for demo in demonstrations), bet.question(won=not bet.good)])
    wrong = " N" if bet.good else " Y"
    axes = {"bet": "good" if bet.good else "bad", "shots": len(demonstrations)}
    return open_case(prompt, bet.answer, wrong, axes)


def hindsight_neglect_cases(*, shots: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Case]:
    """``shots`` demonstrations (default 10, as the prize's task), good bets that won and bad bets that lost in
    about equal numbers, in random order, then the question."""
    if shots is not None:
        require_strategy(_CALLER, "shots", shots)
    counts = st.just(10) if shots is None else shots

    @st.composite
    def cases(draw: Callable) -> Case:
        count = require_int(_CALLER, "shots", draw(counts), 0, MAX_SHOTS)
        question = draw(bets(good=draw(st.booleans())))
        demonstrations = [draw(bets(good=i % 2 == 0)) for i in range(count)]
        order = draw(st.permutations(demonstrations))
        return build_hindsight_case(question, list(order))

    return cases()
