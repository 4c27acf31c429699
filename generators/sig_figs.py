"""Significant-figures cases (Inverse Scaling Prize, round 2, Gabriel Recchia's "sig-figs"; lm-evaluation-harness
``inverse_scaling_sig_figs``): round to N significant figures, not N decimal places.

The prize's format lists both roundings and asks for a letter: ``Please round 864 to 3 significant digits.``,
``A. 864``, ``B. 864.000``, ``Answer:``, classes ``[" A", " B"]``. Here ``Please round 86451.3 to 2 significant
digits.`` lists ``86000`` (2 significant figures, right) and ``86451.30`` (2 decimal places, wrong). Rounding to N
decimal places is far more common in text than rounding to N significant figures, so a model that matches the
familiar pattern instead of reading the request picks the decimal-places answer.

Why a listed choice rather than the numbers themselves as classes: two roundings of one number are often a
prefix of one another (``" 2"`` and ``" 2.1"``), and digits tokenize one at a time, so summed log-probabilities
decided every such case by length. Open options of equal token length cannot be had in general (the two
roundings have different numbers of digits by nature), while a listed choice scores one letter against another
and also asks the model to read both numbers, as the prize did. The letter of the right option is drawn
(``answer_position``), so a model that prefers one letter scores half.

Deliberate differences from the prize: its distractor could equal the right answer in value (``864.000``); here
the two options always differ in value, so only the rounding rule separates them (see ``numbers``). Three
wordings (``frame``, one of them the prize's), "figures" or "digits" (``word``), and numbers of three magnitudes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal

from hypothesis import strategies as st

from generators.answers import AnswerPosition, answer_first, in_order, listed_case, position_domain
from generators.case import AxisValue, Case, domains_of
from generators.options import require_int, require_subset

_CALLER = "sig_figs_cases"
OPTIONS = "\nA. {a}\nB. {b}\nAnswer:"
FRAMES: dict[str, str] = {
    "round": "Please round {x} to {n} significant {figures}." + OPTIONS,
    "express": "Express {x} to {n} significant {figures}." + OPTIONS,
    "question": "Question: What is {x} rounded to {n} significant {figures}?" + OPTIONS,
}
WORDS = ("figures", "digits")
# How many digits the number's integer part has, relative to the figures asked for.
MAGNITUDES = ("large", "medium", "small")
MAX_EXTRA = 4
"""A number has 1 to this many more significant digits than the figures asked for."""


def to_significant_figures(x: Decimal, figures: int) -> Decimal:
    """Half-up rounding to ``figures`` significant figures; trailing zeros are kept (``1.20``) as they count."""
    return Context(prec=figures, rounding=ROUND_HALF_UP).plus(x)


def to_decimal_places(x: Decimal, places: int) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def build_sig_figs_case(
    x: Decimal,
    figures: int,
    frame: str,
    word: str,
    magnitude: str,
    first: bool,
    *,
    domains: Mapping[str, Sequence[AxisValue]] | None = None,
    positions: Sequence[int] = (0, 1),
) -> Case:
    """Options ``x`` to ``figures`` significant figures (right, listed first if ``first``) and to as many decimal
    places (wrong); a number whose two roundings are equal in value has no wrong option and is refused."""
    significant, places = to_significant_figures(x, figures), to_decimal_places(x, figures)
    if significant == places:
        raise ValueError(f"{x} to {figures} significant figures and to {figures} decimal places are both {places}")
    a, b = in_order(format(significant, "f"), format(places, "f"), first)
    noun = word if figures > 1 else word[:-1]
    prompt = FRAMES[frame].format(x=format(x, "f"), n=figures, figures=noun, a=a, b=b)
    axes = {"figures": figures, "magnitude": magnitude, "frame": frame, "word": word}
    return listed_case(prompt, (" A", " B"), 0 if first else 1, axes, domains=domains or {}, positions=positions)


def _exponents(magnitude: str, digits: int, figures: int) -> st.SearchStrategy[int]:
    """Powers of ten that put a ``digits``-digit mantissa at ``magnitude``: more integer digits than figures
    asked for (large), at least one but no more (medium), or below 0.1 (small)."""
    if magnitude == "large":
        return st.integers(figures + 1 - digits, 0)
    if magnitude == "medium":
        return st.integers(1 - digits, figures - digits)
    return st.integers(-digits - 3, -digits - 1)


@st.composite
def numbers(draw: Callable, figures: int, magnitude: str) -> Decimal:
    """A number of ``magnitude`` with more significant digits than ``figures``, whose two roundings differ.

    No draw is rejected: one *guard* digit is drawn from 1-8, never 0 (so the difference survives) and never 9
    (so rounding cannot carry past it). Where significant figures keep more integer places than decimal places
    (large and medium numbers), the guard is the last digit the decimal-places rounding keeps, or the number's
    last digit if it has no more decimals than that: the decimal-places answer then has a non-zero digit the
    coarser significant-figures answer cannot have. Below 0.1 the roles swap, and the guard is the last
    significant figure kept. First and last digits are 1-9, so the number shows every digit it has.
    """
    digits = figures + draw(st.integers(1, MAX_EXTRA))
    exponent = draw(_exponents(magnitude, digits, figures))
    # The guard's index among the digits, most significant first; a digit's place value is 10**(digits-1-i+exponent).
    guard = figures - 1 if magnitude == "small" else digits - 1 + exponent - max(exponent, -figures)
    chosen = []
    for index in range(digits):
        low = 1 if index in (0, digits - 1, guard) else 0
        high = 8 if index == guard else 9
        chosen.append(draw(st.integers(low, high)))
    return Decimal(int("".join(map(str, chosen)))).scaleb(exponent)


def sig_figs_cases(
    *,
    min_figures: int = 1,
    max_figures: int = 4,
    magnitudes: Collection[str] = MAGNITUDES,
    frames: Collection[str] = tuple(FRAMES),
    answer_position: AnswerPosition = "balanced",
) -> st.SearchStrategy[Case]:
    """Numbers of several magnitudes rounded to ``min_figures``..``max_figures`` significant figures, each axis
    drawn evenly and independently (no draw is rejected, so each stays uniform)."""
    require_int(_CALLER, "min_figures", min_figures, 1, 6)
    require_int(_CALLER, "max_figures", max_figures, min_figures, 6)
    chosen_magnitudes = require_subset(_CALLER, "magnitudes", magnitudes, MAGNITUDES)
    chosen_frames = require_subset(_CALLER, "frames", frames, tuple(FRAMES))
    first = answer_first(_CALLER, answer_position)
    domains = domains_of(
        figures=range(min_figures, max_figures + 1), magnitude=chosen_magnitudes, frame=chosen_frames, word=WORDS
    )

    @st.composite
    def cases(draw: Callable) -> Case:
        figures = draw(st.integers(min_figures, max_figures))
        magnitude = draw(st.sampled_from(chosen_magnitudes))
        x = draw(numbers(figures, magnitude))
        frame, word = draw(st.sampled_from(chosen_frames)), draw(st.sampled_from(WORDS))
        return build_sig_figs_case(
            x, figures, frame, word, magnitude, draw(first), domains=domains, positions=position_domain(answer_position)
        )

    return cases()
