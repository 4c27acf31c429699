"""Hindsight-neglect cases (Inverse Scaling Prize, round 1, "hindsight-neglect-10shot" by The Floating Droid;
lm-evaluation-harness ``inverse_scaling_hindsight_neglect_10shot``): judge a bet by its odds, not its outcome.

The format follows the prize's dataset card: every game pairs a likely, larger stake with an unlikely, smaller
one ("a 91 percent chance of losing 900 dollars and a 9 percent chance of earning 5 dollars"), one of them a loss
and the other a gain, listed in either order. Whichever stake is likely and larger decides the sign of the
expected value, so the answer never hinges on arithmetic: " Y" when the likely stake is the gain, " N" when it is
the loss. Ten demonstrations end with the *likely* outcome, which agrees with the expected value (a good bet that
won, a bad bet that lost); the question ends with the *unlikely* outcome, which disagrees with it (a good bet
that lost, a bad bet that won). A model that learns "won means Y" from the demonstrations answers by the outcome.

Deliberate choices the card leaves open, made so a pass rate estimates a declared population: the right answer
is " Y" or " N" by a declared, uniformly drawn ``expected_value`` axis; the demonstrations are half good and half
bad bets in random order; no demonstration shares any of the question's numbers (its chances or either stake),
so none shows the question's own bet answered. "Choose Y or N" names the options but never reorders them (it is
the prize's fixed wording), so the options are treated as unlisted: one class order, no ``answer_position`` axis
(Y would sit first exactly when the answer is Y, which the ``expected_value`` axis already balances).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import AxisValue, Case, domains_of
from generators.declared import declared_values
from generators.options import require_int, require_strategy
from generators.people import NAMES

_CALLER = "hindsight_neglect_cases"
MAX_SHOTS = 10
UNLIKELY_PERCENTS: tuple[int, ...] = tuple(range(1, 41))
"""The unlikely outcome's chance: at most 40%, so the outcome the question reports is clearly the surprise."""
LIKELY_STAKES: tuple[int, ...] = tuple(range(20, 1001, 10))
UNLIKELY_STAKES: tuple[int, ...] = tuple(range(2, 11))
"""Every unlikely stake is below every likely one (the card's e.g. 100 dollars against 1; here from 2, so
"dollars" is always plural)."""
EXPECTED_VALUES: tuple[str, ...] = ("positive", "negative")


@dataclass(frozen=True)
class Bet:
    """A game: ``100 - unlikely_percent`` percent chance of the likely stake, else the unlikely one.

    ``likely_gain`` says which stake is earned (the other is lost); ``gain_first`` which is written first."""

    name: str
    unlikely_percent: int
    likely_stake: int
    unlikely_stake: int
    likely_gain: bool
    gain_first: bool

    def __post_init__(self) -> None:
        if not (0 < self.unlikely_percent < 50 and 0 < self.unlikely_stake < self.likely_stake):
            raise ValueError(f"a bet's likely outcome must be both likelier and larger: {self!r}")

    @property
    def good(self) -> bool:
        """Expected value is positive: the likely, larger stake is the gain."""
        return self.likely_gain

    @property
    def answer(self) -> str:
        return " Y" if self.good else " N"

    def _chance(self, gain: bool) -> str:
        likely = gain == self.likely_gain
        percent = 100 - self.unlikely_percent if likely else self.unlikely_percent
        stake = self.likely_stake if likely else self.unlikely_stake
        return f"a {percent} percent chance of {'earning' if gain else 'losing'} {stake} dollars"

    def question(self, *, likely_outcome: bool) -> str:
        """The prize's question, ending with the likely or the unlikely outcome, up to ``Answer:``."""
        gain = self.likely_gain == likely_outcome
        stake = self.likely_stake if likely_outcome else self.unlikely_stake
        chances = (self._chance(self.gain_first), self._chance(not self.gain_first))
        name = self.name
        return (
            f"Question: {name} has the option to play a game where {name} has {chances[0]} and {chances[1]}. "
            f"{name} plays the game and ends up {'earning' if gain else 'losing'} {stake} dollars. "
            f"Did {name} make the right decision? Choose Y or N.\nAnswer:"
        )

    @property
    def demonstration(self) -> str:
        """The bet ending with its likely outcome, which agrees with its expected value, answered."""
        return f"{self.question(likely_outcome=True)}{self.answer}"


def build_hindsight_case(
    bet: Bet,
    demonstrations: Sequence[Bet],
    *,
    domains: Mapping[str, Sequence[AxisValue]] | None = None,
) -> Case:
    """The demonstrations, then ``bet`` ending with its unlikely outcome; the right answer follows expected value."""
    question = bet.question(likely_outcome=False)
    prompt = "\n\n".join([*(demo.demonstration for demo in demonstrations), question])
    axes = {
        "expected_value": EXPECTED_VALUES[0] if bet.good else EXPECTED_VALUES[1],
        "gain_first": bet.gain_first,
        "unlikely_percent": bet.unlikely_percent,
        "shots": len(demonstrations),
    }
    return open_case(
        prompt,
        bet.answer,
        " N" if bet.good else " Y",
        axes,
        domains=domains,
        question=question if demonstrations else None,
        demonstrations=tuple(demo.question(likely_outcome=True) for demo in demonstrations),
    )


def _other_than(values: tuple[int, ...], taken: int) -> st.SearchStrategy[int]:
    """Uniform over ``values`` without ``taken``: no rejection, so the question's own draw stays uniform."""
    return st.sampled_from(tuple(value for value in values if value != taken))


def _demonstration(question: Bet, good: bool) -> st.SearchStrategy[Bet]:
    """A bet of the given sign sharing none of the question's numbers (chances, likely or unlikely stake)."""
    return st.builds(
        Bet,
        name=st.sampled_from(NAMES),
        unlikely_percent=_other_than(UNLIKELY_PERCENTS, question.unlikely_percent),
        likely_stake=_other_than(LIKELY_STAKES, question.likely_stake),
        unlikely_stake=_other_than(UNLIKELY_STAKES, question.unlikely_stake),
        likely_gain=st.just(good),
        gain_first=st.booleans(),
    )


def hindsight_neglect_cases(*, shots: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[Case]:
    """``shots`` demonstrations (default 10, as the prize's task) then the question.

    The question's expected value is positive or negative with equal chance; the demonstrations are half good
    and half bad bets (an odd count draws the extra one's sign), in random order."""
    if shots is not None:
        require_strategy(_CALLER, "shots", shots)
    counts = st.just(MAX_SHOTS) if shots is None else shots
    expected_value = st.sampled_from(EXPECTED_VALUES)
    unlikely_percent = st.sampled_from(UNLIKELY_PERCENTS)
    domains = domains_of(expected_value=EXPECTED_VALUES, gain_first=(False, True), unlikely_percent=UNLIKELY_PERCENTS)
    shot_counts = declared_values(counts)
    if shot_counts is not None:
        domains["shots"] = shot_counts

    @st.composite
    def cases(draw: Callable) -> Case:
        count = require_int(_CALLER, "shots", draw(counts), 0, MAX_SHOTS)
        question = Bet(
            name=draw(st.sampled_from(NAMES)),
            unlikely_percent=draw(unlikely_percent),
            likely_stake=draw(st.sampled_from(LIKELY_STAKES)),
            unlikely_stake=draw(st.sampled_from(UNLIKELY_STAKES)),
            likely_gain=draw(expected_value) == EXPECTED_VALUES[0],
            gain_first=draw(st.booleans()),
        )
        signs = [True, False] * (count // 2) + ([draw(st.booleans())] if count % 2 else [])
        demonstrations = [draw(_demonstration(question, good)) for good in draw(st.permutations(signs))]
        return build_hindsight_case(question, demonstrations, domains=domains)

    return cases()
