"""Statistics the report needs, small enough to read: Wilson intervals, exact McNemar, and trend verdicts."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runner.sequential import PairedSequence

Z_95 = 1.959963984540054
TREND_ALPHA = 0.05
"""The chance of calling any trend in a run of flat behaviours (the trend rule's family-wise error)."""


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


Outcomes = Sequence[bool | None]
"""One size's pass/fail on a behaviour's case stream, position by position; None where it scored no verdict (a
sequential run that stopped earlier, an example too long for it)."""


@dataclass(frozen=True)
class Comparison:
    """Model j against model i on the cases both answered: did j get significantly better or worse?"""

    difference: float
    p_value: float
    direction: int
    """+1 if the evidence is that j is better, -1 worse, 0 none: the sign of the difference for McNemar, the side
    whose one-sided p-value is smaller for the anytime-valid test (whose evidence may have peaked earlier)."""

    def significant(self, alpha: float) -> int:
        """+1 significantly better, -1 significantly worse, 0 not distinguishable from noise."""
        return 0 if self.p_value >= alpha else self.direction


PairTest = Callable[[Outcomes, Outcomes], Comparison]


def shared_outcomes(first: Outcomes, second: Outcomes) -> tuple[list[bool], list[bool]]:
    """The two sizes' outcomes on the cases both answered, in stream order."""
    pairs = [(a, b) for a, b in zip(first, second, strict=True) if a is not None and b is not None]
    return [a for a, _ in pairs], [b for _, b in pairs]


def compare_paired(first: Outcomes, second: Outcomes) -> Comparison:
    """Exact McNemar on the cases both sizes answered: the fixed design's test (n chosen before looking)."""
    first, second = shared_outcomes(first, second)
    only_first = sum(a and not b for a, b in zip(first, second, strict=True))
    only_second = sum(b and not a for a, b in zip(first, second, strict=True))
    n = len(first)
    return Comparison(
        difference=(only_second - only_first) / n if n else 0.0,
        p_value=mcnemar_exact(only_first, only_second),
        direction=(only_second > only_first) - (only_second < only_first),
    )


def compare_anytime(first: Outcomes, second: Outcomes) -> Comparison:
    """The anytime-valid paired test (``runner.sequential.PairedSequence``) on the cases both sizes answered, in
    stream order: valid however the sizes' n were chosen, so it is the test of a sequential run, whose sizes stop
    when their verdicts are certain."""
    first, second = shared_outcomes(first, second)
    if not first:
        return Comparison(difference=0.0, p_value=1.0, direction=0)
    sequence = PairedSequence(cap=len(first))
    decision = sequence.feed(first, second)
    p_better, p_worse = sequence.p_values()
    return Comparison(
        difference=decision.estimate, p_value=decision.p_value, direction=(p_better < p_worse) - (p_worse < p_better)
    )


PAIR_TESTS: dict[str, PairTest] = {"fixed": compare_paired, "sequential": compare_anytime}
"""The pairwise test of each stopping mode (``results.json``'s ``run.stopping.mode``); the trend rule is one."""

PAIR_TEST_WORDS = {"fixed": "an exact McNemar test", "sequential": "an anytime-valid paired betting test"}


def trend_rule(mode: str = "fixed") -> str:
    """The trend rule in words, with the pairwise test of the run's stopping mode."""
    return _TREND_RULE.format(test=PAIR_TEST_WORDS[mode])


_TREND_RULE = (
    "Sizes are ordered by parameter count and compared pairwise with {test} on the cases both "
    "answered (in a sequential run, whose sizes stop when their verdicts are certain, the anytime-valid test of "
    "runner/sequential.py, fed the shared cases in the order they were drawn: its p-value holds however each "
    "size's n was chosen), Bonferroni-corrected over the pairs of a behaviour; across the behaviours of a run, Holm's step-down "
    "rule keeps the chance of calling any trend in a run of flat behaviours at 0.05: a behaviour's trend p-value is "
    "its smallest pairwise p-value times its number of pairs, and a behaviour is judged at the level Holm gives it "
    "(flat if Holm does not reject). U-shaped: the worst size lies strictly "
    "between the ends and is significantly worse than both the smallest and the largest. Inverted-U: likewise for "
    "the best size, significantly better than both ends. Otherwise inverse: the largest is significantly worse "
    "than the smallest; standard: significantly better. Otherwise flat. Fewer than two sizes: too few sizes."
)
TREND_RULE = trend_rule("fixed")


def pair_stopping_alpha(sizes: int, behaviours: int, alpha: float = TREND_ALPHA) -> float:
    """The level a sequential run decides a pair of sizes at before it stops scoring them: Bonferroni over the
    behaviour's pairs, and Holm's strictest step over the run's behaviours, so a pair decided there is significant
    under the trend rule whatever the other behaviours show (a looser level would stop sizes whose trend the rule
    then calls flat)."""
    return alpha / (max(1, sizes * (sizes - 1) // 2) * max(1, behaviours))


def trend_p_value(outcomes: Sequence[Outcomes], *, compare: PairTest = compare_paired) -> float:
    """Bonferroni-adjusted smallest pairwise p-value: the p-value of "some size differs from some other"."""
    sizes = len(outcomes)
    if sizes < 2:
        return 1.0
    pairs = sizes * (sizes - 1) // 2
    smallest = min(compare(outcomes[i], outcomes[j]).p_value for i in range(sizes) for j in range(i + 1, sizes))
    return min(1.0, smallest * pairs)


def trend_verdicts(
    families: Sequence[Sequence[Outcomes]], *, alpha: float = TREND_ALPHA, compare: PairTest = compare_paired
) -> list[str]:
    """The trend verdict of each behaviour of a run, Holm-corrected across them (see ``TREND_RULE``)."""
    p_values = [trend_p_value(outcomes, compare=compare) for outcomes in families]
    levels = holm_levels(p_values, alpha)
    return [
        "too few sizes"
        if len(outcomes) < 2
        else ("flat" if level is None else trend_verdict(outcomes, alpha=level, compare=compare))
        for outcomes, level in zip(families, levels, strict=True)
    ]


def trend_verdict(outcomes: Sequence[Outcomes], *, alpha: float = 0.05, compare: PairTest = compare_paired) -> str:
    """Classify pass rates across sizes (``outcomes[i]`` are size i's pass/fail on the behaviour's cases, in
    stream order, None where size i gave no verdict).

    Noise is not a trend: every step the verdict rests on must be significant under the corrected test.
    """
    sizes = len(outcomes)
    if sizes < 2:
        return "too few sizes"
    corrected = alpha / (sizes * (sizes - 1) / 2)
    answered = [[passed for passed in row if passed is not None] for row in outcomes]
    rates = [sum(row) / len(row) if row else math.nan for row in answered]

    def step(i: int, j: int) -> int:
        return compare(outcomes[i], outcomes[j]).significant(corrected)

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
