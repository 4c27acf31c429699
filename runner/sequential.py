"""Stop scoring once a verdict is certain: anytime-valid tests of a pass rate and of paired comparisons.

Method: testing by betting, Waudby-Smith & Ramdas (2023), "Estimating means of bounded random variables by
betting", JRSS-B 86(1):1-27 (2024), doi:10.1093/jrsssb/qkad009, arXiv:2010.09686. For a stream x_1, x_2, ... in [0, 1]
and a candidate mean m, one gambler bets that the mean is above m and another that it is below:

    K+_t(m) = prod_{i<=t} (1 + l+_i (x_i - m)),        K-_t(m) = prod_{i<=t} (1 - l-_i (x_i - m)),

with bets l+_i in [0, c/m] and l-_i in [0, c/(1 - m)] computed from x_1 .. x_{i-1} only. While the mean is at most
m, K+ is a nonnegative supermartingale, so by Ville's inequality it ever reaches 1/a with probability at most a:
"the mean is above m" may be declared the first time K+_t(m) >= 1/a, however often one looks, and likewise with K-.
The confidence sequence is the set of m that neither gambler has rejected so far (a running intersection). The
paper's hedged capital process, max(theta K+, (1 - theta) K-) >= 1/alpha with theta = 1/2 (their betting CS), is the
case a+ = a- = alpha/2 used here for two-sided verdicts; the gate spends alpha on each side (see GateSequence).

Bets are the paper's approximate GRAPA (aGRAPA): l_i = (mu_{i-1} - m) / (s2_{i-1} + (mu_{i-1} - m)^2), a
first-order approximation of the growth-optimal (Kelly) bet, its positive part for K+ and negative part for K-,
truncated at c = 1/2, with the paper's regularised running mean mu_t = (1/2 + sum_{i<=t} x_i) / (t + 1) and
variance s2_t = (1/4 + sum_{i<=t} (x_i - mu_i)^2) / (t + 1). A tie in a paired comparison, x = 1/2 against
m = 1/2, multiplies both capitals by exactly 1, so identical outcomes never show a difference.

Capital is kept in log space; a crossing is remembered at the observation where it happened, so a verdict (and the
n it reports, rounded up to the end of its block) does not depend on how the stream was cut into blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Verdict = Literal["above", "below", "better", "worse", "regression", "no regression", "undecided"]
Stop = Literal["decided", "cap"]

TRUNCATION = 0.5  # c: no single outcome can cost a gambler more than half its capital
_CELLS = 1 << 21  # observations x candidate means handled at once, to bound memory on long blocks
_PRIOR_MEAN, _PRIOR_VARIANCE = 0.5, 0.25  # the paper's regularisation: one pseudo-observation


def _check_alpha(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value}: pass e.g. 0.05")


def _check_cap(cap: int) -> None:
    if isinstance(cap, bool) or not isinstance(cap, int | np.integer) or cap < 1:
        raise ValueError(f"cap must be a whole number of at least 1, got {cap!r}: pass the most cases to score")


@dataclass
class _Capital:
    """Both gamblers' log capital at every candidate mean, for a batch of independent streams (rows)."""

    candidates: npt.NDArray[np.float64]  # (G,)
    log_threshold_up: float
    log_threshold_down: float
    n: int
    total: npt.NDArray[np.float64]  # (B,) running sum of observations
    squares: npt.NDArray[np.float64]  # (B,) running sum of (x_i - mu_i)^2
    log_up: npt.NDArray[np.float64]  # (B, G) log K+ now
    log_down: npt.NDArray[np.float64]
    best_up: npt.NDArray[np.float64]  # (B, G) largest log K+ so far
    best_down: npt.NDArray[np.float64]
    first_up: npt.NDArray[np.int64]  # (B, G) 1-based n at which K+ first reached its threshold, 0 = never
    first_down: npt.NDArray[np.int64]

    @classmethod
    def start(cls, candidates: npt.NDArray[np.float64], alpha_up: float, alpha_down: float, batch: int) -> _Capital:
        shape = (batch, candidates.size)
        return cls(
            candidates=candidates,
            log_threshold_up=-math.log(alpha_up),
            log_threshold_down=-math.log(alpha_down),
            n=0,
            total=np.zeros(batch),
            squares=np.zeros(batch),
            log_up=np.zeros(shape),
            log_down=np.zeros(shape),
            best_up=np.zeros(shape),
            best_down=np.zeros(shape),
            first_up=np.zeros(shape, dtype=np.int64),
            first_down=np.zeros(shape, dtype=np.int64),
        )

    def advance(self, values: npt.NDArray[np.float64]) -> None:
        """Bet on each observation of ``values`` (B, T) in turn; long blocks go in slices to bound memory."""
        step = max(1, _CELLS // (values.shape[0] * self.candidates.size))
        for start in range(0, values.shape[1], step):
            self._advance(values[:, start : start + step])

    def _advance(self, values: npt.NDArray[np.float64]) -> None:
        m = self.candidates
        counts = self.n + np.arange(1, values.shape[1] + 1)
        sums = self.total[:, None] + np.cumsum(values, axis=1)
        means = (_PRIOR_MEAN + sums) / (counts + 1)
        squares = self.squares[:, None] + np.cumsum((values - means) ** 2, axis=1)
        # The bet on x_i may use only x_1 .. x_{i-1}: shift the running estimates by one observation.
        mean_before = np.concatenate([((_PRIOR_MEAN + self.total) / (self.n + 1))[:, None], means[:, :-1]], axis=1)
        squares_before = np.concatenate([self.squares[:, None], squares[:, :-1]], axis=1)
        variance_before = (_PRIOR_VARIANCE + squares_before) / counts
        gap = mean_before[:, :, None] - m
        bet = gap / (variance_before[:, :, None] + gap**2)
        with np.errstate(divide="ignore"):
            up = np.minimum(np.maximum(bet, 0.0), TRUNCATION / m)
            down = np.minimum(np.maximum(-bet, 0.0), TRUNCATION / (1.0 - m))
        moved = values[:, :, None] - m
        log_up = self.log_up[:, None, :] + np.cumsum(np.log1p(up * moved), axis=1)
        log_down = self.log_down[:, None, :] + np.cumsum(np.log1p(-down * moved), axis=1)
        self.first_up = _first_crossing(self.first_up, log_up >= self.log_threshold_up, self.n)
        self.first_down = _first_crossing(self.first_down, log_down >= self.log_threshold_down, self.n)
        self.best_up = np.maximum(self.best_up, log_up.max(axis=1))
        self.best_down = np.maximum(self.best_down, log_down.max(axis=1))
        self.log_up, self.log_down = log_up[:, -1], log_down[:, -1]
        self.total, self.squares = sums[:, -1], squares[:, -1]
        self.n += values.shape[1]


def _first_crossing(first: npt.NDArray[np.int64], hits: npt.NDArray[np.bool_], before: int) -> npt.NDArray[np.int64]:
    """Keep earlier crossings; record the 1-based observation of the first hit in this slice where there was none."""
    new = (first == 0) & hits.any(axis=1)
    return np.where(new, before + 1 + hits.argmax(axis=1), first)


def _candidates(resolution: int, nulls: Sequence[float]) -> npt.NDArray[np.float64]:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be a whole number of at least 2, got {resolution!r}: pass e.g. 1000")
    for null in nulls:
        if not 0 <= null <= 1:
            raise ValueError(f"a null mean must lie in [0, 1], got {null}: outcomes are scaled to [0, 1]")
    return np.unique(np.concatenate([np.arange(1, resolution) / resolution, np.asarray(nulls, dtype=float)]))


def _as_values(values: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{what} is empty: feed at least one scored case per block")
    if not np.all((array >= 0) & (array <= 1)):
        raise ValueError(
            f"{what} must lie in [0, 1] (pass/fail as True/False or 1/0), got {array.min()}..{array.max()}"
        )
    return array


class ConfidenceSequence:
    """An anytime-valid confidence sequence for the mean of a stream in [0, 1], and tests of chosen null means.

    The lower bound holds at every n at once with probability at least 1 - ``alpha_lower``, the upper bound with
    1 - ``alpha_upper``. The interval is computed on a grid of ``resolution`` steps plus the ``nulls`` and widened
    outward by one step, so it is honest to that resolution; tests at a null are exact.
    """

    def __init__(
        self, *, alpha_lower: float, alpha_upper: float, nulls: Sequence[float] = (), resolution: int = 1000
    ) -> None:
        _check_alpha("alpha_lower", alpha_lower)
        _check_alpha("alpha_upper", alpha_upper)
        self._capital = _Capital.start(_candidates(resolution, nulls), alpha_lower, alpha_upper, batch=1)

    @property
    def n(self) -> int:
        return self._capital.n

    @property
    def mean(self) -> float:
        return float(self._capital.total[0] / self.n) if self.n else math.nan

    def update(self, values: npt.ArrayLike) -> None:
        """Take the next observations, in stream order."""
        self._capital.advance(_as_values(values, "values")[None, :])

    def interval(self) -> tuple[float, float]:
        """The running intersection: every candidate mean neither gambler has rejected so far."""
        capital, m = self._capital, self._capital.candidates
        kept = np.flatnonzero((capital.first_up[0] == 0) & (capital.first_down[0] == 0))
        if kept.size == 0:  # every candidate was rejected at some time (probability < alpha): the least-rejected one
            excess = np.maximum(
                capital.log_up[0] - capital.log_threshold_up, capital.log_down[0] - capital.log_threshold_down
            )
            kept = np.array([int(np.argmin(excess))])
        low, high = kept[0], kept[-1]
        return (float(m[low - 1]) if low > 0 else 0.0, float(m[high + 1]) if high + 1 < m.size else 1.0)

    def crossing(self, null: float) -> tuple[int, int]:
        """n at which "mean > null" became certain, and n at which "mean < null" did; 0 where not (yet)."""
        index = self._index(null)
        return int(self._capital.first_up[0, index]), int(self._capital.first_down[0, index])

    def p_values(self, null: float) -> tuple[float, float]:
        """Anytime-valid p-values of "mean <= null" and of "mean >= null": 1 / the largest capital so far."""
        index = self._index(null)
        return (
            float(min(1.0, math.exp(-self._capital.best_up[0, index]))),
            float(min(1.0, math.exp(-self._capital.best_down[0, index]))),
        )

    def _index(self, null: float) -> int:
        index = int(np.searchsorted(self._capital.candidates, null))
        if index == self._capital.candidates.size or self._capital.candidates[index] != null:
            raise ValueError(f"{null} is not a null of this sequence: pass it in nulls=(...) when creating it")
        return index


@dataclass(frozen=True)
class Decision:
    """Where a sequence stands after a block: its verdict, whether to stop (and why), and what results.json keeps."""

    verdict: Verdict
    stopped: Stop | None  # None: undecided and under the cap, so draw the next block
    n: int
    estimate: float
    interval: tuple[float, float]
    p_value: float
    blocks: tuple[int, ...]
    measure: str
    rule: str

    @property
    def done(self) -> bool:
        return self.stopped is not None

    def describe(self) -> str:
        low, high = self.interval
        where = f"{self.measure} {self.estimate:.3f} [{low:.3f}, {high:.3f}]"
        if self.stopped == "cap":
            return f"undecided at the cap (n={self.n}): {where}"
        if self.stopped == "decided":
            return f"{self.verdict}, decided at n={self.n}: {where}"
        return f"undecided so far (n={self.n}): {where}"

    def as_record(self) -> dict[str, Any]:
        """The stopping rule, the blocks and the final interval, as plain JSON data."""
        return {
            "verdict": self.verdict,
            "stopped": self.stopped,
            "n": self.n,
            "estimate": self.estimate,
            "interval": list(self.interval),
            "p_value": self.p_value,
            "blocks": list(self.blocks),
            "measure": self.measure,
            "rule": self.rule,
        }


class _Stopping:
    """A confidence sequence tested at one null, fed block by block up to a cap; subclasses name the verdicts."""

    above: Verdict
    below: Verdict
    measure: str

    def __init__(
        self, *, null: float, alpha_up: float, alpha_down: float, cap: int, rule: str, scale: tuple[float, float]
    ) -> None:
        _check_cap(cap)
        self.cap = int(cap)
        self.rule = rule
        self._null, self._alpha_up, self._alpha_down = null, alpha_up, alpha_down
        self._offset, self._slope = scale  # reported = offset + slope * mean on the [0, 1] scale
        self._sequence = ConfidenceSequence(alpha_lower=alpha_up, alpha_upper=alpha_down, nulls=(null,))
        self._blocks: list[int] = []
        self._decision = self._decide()

    @property
    def remaining(self) -> int:
        """How many more cases may be scored before the cap (0 once the sequence has stopped)."""
        return 0 if self._decision.done else self.cap - self._sequence.n

    @property
    def decision(self) -> Decision:
        return self._decision

    def p_values(self) -> tuple[float, float]:
        """Anytime-valid one-sided p-values: of "not ``above``" and of "not ``below``" (a small first one is
        evidence for ``above``), so a caller testing at its own level knows the direction as well as the p-value."""
        return self._sequence.p_values(self._null)

    def _feed(self, values: npt.NDArray[np.float64]) -> Decision:
        if self._decision.done:
            raise ValueError(
                f"this sequence already stopped ({self._decision.describe()}): start a new one to score more cases"
            )
        if values.size > self.remaining:
            raise ValueError(
                f"a block of {values.size} cases would pass the cap of {self.cap} ({self.remaining} left): "
                "feed at most .remaining cases"
            )
        self._sequence.update(values)
        self._blocks.append(int(values.size))
        self._decision = self._decide()
        return self._decision

    def _decide(self) -> Decision:
        sequence, n = self._sequence, self._sequence.n
        up, down = sequence.crossing(self._null)
        verdict: Verdict = "undecided"
        if up and (not down or up < down):
            verdict = self.above
        elif down and (not up or down < up):
            verdict = self.below
        stopped: Stop | None = "decided" if verdict != "undecided" else ("cap" if n >= self.cap else None)
        p_up, p_down = sequence.p_values(self._null)
        reported = sorted(self._offset + self._slope * bound for bound in sequence.interval())
        return Decision(
            verdict=verdict,
            stopped=stopped,
            n=n,
            estimate=self._offset + self._slope * sequence.mean if n else math.nan,
            interval=(reported[0], reported[1]),
            p_value=self._p_value(p_up, p_down),
            blocks=tuple(self._blocks),
            measure=self.measure,
            rule=self.rule,
        )

    def _p_value(self, p_up: float, p_down: float) -> float:
        """Anytime-valid two-sided p-value: the smallest alpha, split as this sequence splits it, that would have decided."""
        alpha = self._alpha_up + self._alpha_down
        return min(1.0, p_up * alpha / self._alpha_up, p_down * alpha / self._alpha_down)


class RateSequence(_Stopping):
    """One behaviour x model against its required rate: "above", "below" or undecided, checked after every block.

    At a true rate equal to the bar both verdicts are wrong, so each direction gets half of 1 - ``confidence``:
    this is the hedged capital process of the paper evaluated at the bar, i.e. "the bar has left the confidence
    sequence". The chance of any wrong verdict is at most 1 - ``confidence`` at every true rate.
    """

    above: Verdict = "above"
    below: Verdict = "below"
    measure = "pass rate"

    def __init__(self, bar: float, *, confidence: float = 0.95, cap: int = 200) -> None:
        if not 0 <= bar <= 1:
            raise ValueError(f"the required rate must be in [0, 1], got {bar}: pass e.g. 0.5")
        _check_alpha("confidence", confidence)
        half = (1 - confidence) / 2
        rule = (
            f"anytime-valid betting test of the pass rate against {bar:g} (Waudby-Smith & Ramdas 2023, aGRAPA bets, "
            f"c={TRUNCATION:g}) at {confidence:g} confidence ({half:g} per direction), checked after every block, "
            f"cap {cap}"
        )
        super().__init__(null=bar, alpha_up=half, alpha_down=half, cap=cap, rule=rule, scale=(0.0, 1.0))

    def feed(self, passed: npt.ArrayLike) -> Decision:
        """Take the next block of pass/fail outcomes, in the order of the shared case stream."""
        return self._feed(_outcomes(passed, "passed"))


class PairedSequence(_Stopping):
    """Two models on the same cases, in the same order: is ``second`` better, worse, or not distinguishable yet?

    The paired differences d = second - first in {-1, 0, 1} are bet on as (d + 1) / 2 against 1/2, half of
    ``alpha`` per direction. ``alpha`` is per comparison: a trend rule comparing k pairs passes alpha / k
    (Bonferroni), or runs each pair at alpha / k and applies Holm to the decisions' anytime-valid p-values.
    """

    above: Verdict = "better"
    below: Verdict = "worse"
    measure = "paired difference (second - first)"

    def __init__(self, *, alpha: float = 0.05, cap: int = 200) -> None:
        _check_alpha("alpha", alpha)
        rule = (
            f"anytime-valid betting test of the paired difference against 0 (Waudby-Smith & Ramdas 2023, aGRAPA bets, "
            f"c={TRUNCATION:g}) at alpha {alpha:g} ({alpha / 2:g} per direction), checked after every block, cap {cap}"
        )
        super().__init__(null=0.5, alpha_up=alpha / 2, alpha_down=alpha / 2, cap=cap, rule=rule, scale=(-1.0, 2.0))

    def feed(self, first: npt.ArrayLike, second: npt.ArrayLike) -> Decision:
        """Take the next block of both models' outcomes on the same cases."""
        return self._feed(_differences(first, second, "first", "second"))


class GateSequence(_Stopping):
    """The regression gate: did ``current`` lose more than ``tolerance`` of pass rate against ``baseline``?

    One-sided, H0: drop <= tolerance. "regression" when drop > tolerance is certain; "no regression" when
    drop < tolerance is (the upper bound of the drop fell below the tolerance). The two verdicts are wrong on
    disjoint sets of true drops (above / at-or-below the tolerance), so each direction spends all of ``alpha`` and
    the chance of a wrong verdict is at most ``alpha`` at every true drop; the reported interval is two-sided at
    1 - 2 alpha. With tolerance 0 and equal models "no regression" needs a real improvement, so such a run goes to
    the cap: a positive tolerance lets equal models stop early.
    """

    above: Verdict = "no regression"
    below: Verdict = "regression"
    measure = "paired drop (baseline - current)"

    def __init__(self, *, alpha: float = 0.05, tolerance: float = 0.0, cap: int = 200) -> None:
        _check_alpha("alpha", alpha)
        if not 0 <= tolerance < 1:
            raise ValueError(
                f"tolerance must be in [0, 1), got {tolerance}: pass the largest drop that is not a regression"
            )
        rule = (
            f"anytime-valid one-sided betting tests of the paired drop against the tolerance {tolerance:g} "
            f"(Waudby-Smith & Ramdas 2023, aGRAPA bets, c={TRUNCATION:g}) at alpha {alpha:g} each way, "
            f"checked after every block, cap {cap}"
        )
        null = (1 - tolerance) / 2
        super().__init__(null=null, alpha_up=alpha, alpha_down=alpha, cap=cap, rule=rule, scale=(1.0, -2.0))

    def feed(self, baseline: npt.ArrayLike, current: npt.ArrayLike) -> Decision:
        """Take the next block of the baseline's and the current model's outcomes on the same cases."""
        return self._feed(_differences(baseline, current, "baseline", "current"))

    def _p_value(self, p_up: float, p_down: float) -> float:
        """The anytime-valid p-value of H0: drop <= tolerance (small: a regression)."""
        return p_down


def _outcomes(values: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    array = _as_values(values, what)
    if not np.all((array == 0) | (array == 1)):
        raise ValueError(f"{what} must be pass/fail outcomes (True/False or 1/0)")
    return array


def _differences(first: npt.ArrayLike, second: npt.ArrayLike, a: str, b: str) -> npt.NDArray[np.float64]:
    before, after = _outcomes(first, a), _outcomes(second, b)
    if before.size != after.size:
        raise ValueError(f"{a} and {b} must be the same cases: got {before.size} and {after.size} outcomes")
    return (after - before + 1) / 2


def batch_decisions(
    values: npt.ArrayLike, null: float, *, alpha_up: float, alpha_down: float, block: int
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    """Many independent streams at once, decided as the sequences above decide them (for simulation studies).

    ``values`` holds one stream per row on the [0, 1] scale, each as long as the cap. Returns, per row, +1 where
    "mean > null" was decided, -1 where "mean < null" was, 0 where undecided at the cap; and the n scored at the
    stop, blocks of ``block`` cases (the last one cut at the cap).
    """
    streams = np.atleast_2d(np.asarray(values, dtype=float))
    cap = streams.shape[1]
    _check_alpha("alpha_up", alpha_up)
    _check_alpha("alpha_down", alpha_down)
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}: pass the number of cases scored per block")
    capital = _Capital.start(np.array([float(null)]), alpha_up, alpha_down, batch=streams.shape[0])
    capital.advance(streams)
    up, down = capital.first_up[:, 0], capital.first_down[:, 0]
    above = (up > 0) & ((down == 0) | (up < down))
    below = (down > 0) & ((up == 0) | (down < up))
    first = np.where(above, up, down)
    n = np.where(above | below, np.minimum(cap, -(-first // block) * block), cap)
    return above.astype(np.int8) - below.astype(np.int8), n.astype(np.int64)
