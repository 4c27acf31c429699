"""Statistics the report needs, small enough to read: Wilson intervals, exact McNemar, and trend verdicts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054


def wilson_interval(passed: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval for a pass rate: honest near 0 and 1, where inverse-scaling rates live."""
    if n == 0:
        return (math.nan, math.nan)
    rate = passed / n
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs of two runs over the same cases."""
    discordant = only_first + only_second
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_first, only_second) + 1)) / 2**discordant
    return min(1.0, 2 * tail)


def mcnemar_one_sided(worse: int, better: int) -> float:
    """Exact one-sided McNemar p-value for "the second run is worse": P(at least ``worse`` of the discordant pairs
    go against it, were each pair a fair coin). The gate asks only whether a checkpoint got worse, so it spends
    its whole alpha on that side."""
    discordant = worse + better
    if discordant == 0:
        return 1.0
    return sum(math.comb(discordant, k) for k in range(worse, discordant + 1)) / 2**discordant


@dataclass(frozen=True)
class Comparison:
    """Model j against model i on the cases both answered: did j get significantly better or worse?"""

    difference: float
    p_value: float

    def significant(self, alpha: float) -> int:
        """+1 significantly better, -1 significantly worse, 0 not distinguishable from noise."""
        if self.p_value >= alpha or self.difference == 0:
            return 0
        return 1 if self.difference > 0 else -1


def compare_paired(first: Sequence[bool], second: Sequence[bool]) -> Comparison:
    """Paired outcomes of the same cases (same order) under two models."""
    only_first = sum(a and not b for a, b in zip(first, second, strict=True))
    only_second = sum(b and not a for a, b in zip(first, second, strict=True))
    n = len(first)
    return Comparison(
        difference=(only_second - only_first) / n if n else 0.0, p_value=mcnemar_exact(only_first, only_second)
    )


TREND_RULE = (
    "Sizes are ordered by parameter count and compared pairwise with an exact McNemar test on the cases both "
    "answered, Bonferroni-corrected over the pairs of a behaviour; across the behaviours of a run, Holm's step-down "
    "rule keeps the chance of calling any trend in a run of flat behaviours at 0.05: a behaviour's trend p-value is "
    "its smallest pairwise p-value times its number of pairs, and a behaviour is judged at the level Holm gives it "
    "(flat if Holm does not reject). U-shaped: the worst size lies strictly "
    "between the ends and is significantly worse than both the smallest and the largest. Inverted-U: likewise for "
    "the best size, significantly better than both ends. Otherwise inverse: the largest is significantly worse "
    "than the smallest; standard: significantly better. Otherwise flat. Fewer than two sizes: too few sizes."
)


def trend_p_value(outcomes: Sequence[Sequence[bool]]) -> float:
    """Bonferroni-adjusted smallest pairwise p-value: the p-value of "some size differs from some other"."""
    sizes = len(outcomes)
    if sizes < 2:
        return 1.0
    pairs = sizes * (sizes - 1) // 2
    smallest = min(compare_paired(outcomes[i], outcomes[j]).p_value for i in range(sizes) for j in range(i + 1, sizes))
    return min(1.0, smallest * pairs)


def trend_verdicts(families: Sequence[Sequence[Sequence[bool]]], *, alpha: float = 0.05) -> list[str]:
    """The trend verdict of each behaviour of a run, Holm-corrected across them (see ``TREND_RULE``)."""
    p_values = [trend_p_value(outcomes) for outcomes in families]
    levels = holm_levels(p_values, alpha)
    return [
        "too few sizes" if len(outcomes) < 2 else ("flat" if level is None else trend_verdict(outcomes, alpha=level))
        for outcomes, level in zip(families, levels, strict=True)
    ]


def trend_verdict(outcomes: Sequence[Sequence[bool]], *, alpha: float = 0.05) -> str:
    """Classify pass rates across sizes (``outcomes[i]`` are size i's pass/fail on the shared cases, in order).

    Noise is not a trend: every step the verdict rests on must be significant under the corrected test.
    """
    sizes = len(outcomes)
    if sizes < 2:
        return "too few sizes"
    corrected = alpha / (sizes * (sizes - 1) / 2)
    rates = [sum(row) / len(row) if len(row) else math.nan for row in outcomes]

    def step(i: int, j: int) -> int:
        return compare_paired(outcomes[i], outcomes[j]).significant(corrected)

    last = sizes - 1
    worst = min(range(sizes), key=rates.__getitem__)
    best = max(range(sizes), key=rates.__getitem__)
    if 0 < worst < last and step(0, worst) == -1 and step(worst, last) == 1:
        return "U-shaped"
    if 0 < best < last and step(0, best) == 1 and step(best, last) == -1:
        return "inverted-U"
    return {-1: "inverse", 1: "standard", 0: "flat"}[step(0, last)]


def _upper_regularized_gamma(shape: float, x: float) -> float:
    """Q(shape, x) = Γ(shape, x) / Γ(shape): a series below shape + 1, Lentz's continued fraction above."""
    if x <= 0:
        return 1.0
    log_front = shape * math.log(x) - x - math.lgamma(shape)
    if x < shape + 1:
        term = total = 1.0 / shape
        denominator = shape
        while abs(term) > abs(total) * 1e-15:
            denominator += 1
            term *= x / denominator
            total += term
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - shape
    c, d = 1 / tiny, 1 / b
    fraction = d
    for step in range(1, 10_000):
        a = -step * (step - shape)
        b += 2
        d = a * d + b
        d = tiny if abs(d) < tiny else d
        c = b + a / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        fraction *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return min(1.0, fraction * math.exp(log_front))


def chi_square_uniform(counts: Sequence[int]) -> tuple[float, float]:
    """Pearson's chi-square statistic and p-value of ``counts`` against equal expected counts in every cell."""
    total, cells = sum(counts), len(counts)
    if cells < 2 or total == 0:
        return 0.0, 1.0
    expected = total / cells
    statistic = sum((count - expected) ** 2 / expected for count in counts)
    return statistic, _upper_regularized_gamma((cells - 1) / 2, statistic / 2)


def holm_levels(p_values: Sequence[float], alpha: float) -> list[float | None]:
    """Holm's step-down rule: the level at which each of several tests rejects, None where it does not (uniformly
    more powerful than Bonferroni, and valid under any dependence between the tests)."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    levels: list[float | None] = [None] * len(p_values)
    for rank, index in enumerate(order):
        level = alpha / (len(p_values) - rank)
        if p_values[index] > level:
            break
        levels[index] = level
    return levels
