"""Significant-figures cases (Inverse Scaling Prize, round 2): round to N significant figures, not N decimals.

``Round 86451.3 to 2 significant figures.`` must be answered ``" 86000"``, not ``" 86451.30"``. Rounding to N
decimal places is far more common in text than rounding to N significant figures, so a model that matches the
familiar pattern instead of reading the request picks the decimal-places answer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import ROUND_HALF_UP, Context, Decimal

from hypothesis import assume
from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import Case
from generators.options import require_int, require_subset

_CALLER = "sig_figs_cases"
FRAMES: dict[str, str] = {
    "round": "Round {x} to {n} significant {figures}.\nAnswer:",
    "express": "Express {x} to {n} significant {figures}.\nA:",
    "question": "Q: What is {x} rounded to {n} significant {figures}?\nA:",
}
WORDS = ("figures", "digits")
# How many digits the number's integer part has, relative to the figures asked for.
MAGNITUDES = ("large", "medium", "small")


def to_significant_figures(x: Decimal, figures: int) -> Decimal:
    """Half-up rounding to ``figures`` significant figures; trailing zeros are kept (``1.20``) as they count."""
    return Context(prec=figures, rounding=ROUND_HALF_UP).plus(x)


def to_decimal_places(x: Decimal, places: int) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def build_sig_figs_case(x: Decimal, figures: int, frame: str, word: str, magnitude: str) -> Case:
    """Right: ``x`` to ``figures`` significant figures; wrong: to as many decimal places."""
    noun = word if figures > 1 else word[:-1]
    prompt = FRAMES[frame].format(x=format(x, "f"), n=figures, figures=noun)
    right = format(to_significant_figures(x, figures), "f")
    wrong = format(to_decimal_places(x, figures), "f")
    axes = {"figures": figures, "magnitude": magnitude, "frame": frame, "word": word}
    return open_case(prompt, f" {right}", f" {wrong}", axes)


def _exponents(magnitude: str, digits: int, figures: int) -> st.SearchStrategy[int]:
    """Powers of ten that put a ``digits``-digit mantissa at ``magnitude``: more integer digits than figures
    asked for (large), at least one but no more (medium), or below 0.1 (small)."""
    if magnitude == "large":
        return st.integers(figures + 1 - digits, 0)
    if magnitude == "medium":
        return st.integers(1 - digits, min(figures - digits, -1))
    return st.integers(-digits - 3, -digits - 1)


def sig_figs_cases(
    *,
    min_figures: int = 1,
    max_figures: int = 4,
    magnitudes: Collection[str] = MAGNITUDES,
    frames: Collection[str] = tuple(FRAMES),
) -> st.SearchStrategy[Case]:
    """Numbers of several magnitudes rounded to ``min_figures``..``max_figures`` significant figures.

    A draw whose two roundings are numerically equal (``19.96`` to 1 figure and to 1 place are both 20) is
    rejected: such a case would have no wrong answer.
    """
    require_int(_CALLER, "min_figures", min_figures, 1, 6)
    require_int(_CALLER, "max_figures", max_figures, min_figures, 6)
    chosen_magnitudes = st.sampled_from(require_subset(_CALLER, "magnitudes", magnitudes, MAGNITUDES))
    chosen_frames = st.sampled_from(require_subset(_CALLER, "frames", frames, tuple(FRAMES)))

    @st.composite
    def cases(draw: Callable) -> Case:
        figures = draw(st.integers(min_figures, max_figures))
        magnitude = draw(chosen_magnitudes)
        digits = draw(st.integers(figures + 1, figures + 4))
        mantissa = draw(st.integers(10 ** (digits - 1), 10**digits - 1).filter(lambda m: m % 10))
        x = Decimal(mantissa).scaleb(draw(_exponents(magnitude, digits, figures)))
        assume(to_significant_figures(x, figures) != to_decimal_places(x, figures))
        return build_sig_figs_case(x, figures, draw(chosen_frames), draw(st.sampled_from(WORDS)), magnitude)

    return cases()
