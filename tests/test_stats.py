"""Intervals and trend verdicts on families whose true trend is known by construction."""

from __future__ import annotations

import random

import pytest

from reports.stats import (
    _upper_regularized_gamma,
    chi_square_uniform,
    compare_anytime,
    compare_paired,
    holm_levels,
    mcnemar_exact,
    mcnemar_one_sided,
    pair_stopping_alpha,
    trend_p_value,
    trend_verdict,
    trend_verdicts,
    wilson_interval,
)
from runner.sequential import PairedSequence


def family(rates: list[float], *, cases: int = 400, seed: int = 0) -> list[list[bool]]:
    """Pass/fail of each size on the same cases, each case passing independently with the size's true rate."""
    rng = random.Random(seed)
    return [[rng.random() < rate for _ in range(cases)] for rate in rates]


def test_wilson_interval_matches_published_values() -> None:
    low, high = wilson_interval(81, 263)  # Wilson (1927) style check value: 0.3080 [0.2553, 0.3662]
    assert low == pytest.approx(0.2553, abs=1e-4) and high == pytest.approx(0.3662, abs=1e-4)
    assert wilson_interval(0, 20) == (0.0, pytest.approx(0.1611, abs=1e-4))
    assert wilson_interval(20, 20)[1] == 1.0


def test_exact_mcnemar() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 2**6)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(10, 2) == pytest.approx(0.0385742, abs=1e-6)


def test_paired_comparison_direction() -> None:
    worse = compare_paired([True] * 30, [False] * 30)
    assert worse.difference == -1.0 and worse.significant(0.05) == -1
    assert compare_paired([True, False] * 10, [False, True] * 10).significant(0.05) == 0


@pytest.mark.parametrize(
    ("rates", "verdict"),
    [
        ([0.35, 0.2, 0.1, 0.05], "inverse"),
        ([0.1, 0.3, 0.5, 0.7], "standard"),
        ([0.7, 0.3, 0.3, 0.7], "U-shaped"),
        ([0.2, 0.6, 0.2], "inverted-U"),
        ([0.5, 0.5, 0.5, 0.5, 0.5], "flat"),
        ([0.3], "too few sizes"),
        ([0.35, 0.05], "inverse"),
    ],
)
def test_trend_verdicts_recover_the_true_shape(rates: list[float], verdict: str) -> None:
    assert trend_verdict(family(rates)) == verdict


def test_noise_is_not_called_a_trend() -> None:
    """A flat family of 6 sizes at rate 0.3 with independent per-case noise: at most 5% of draws may be called a trend."""
    verdicts = [trend_verdict(family([0.3] * 6, cases=300, seed=seed)) for seed in range(100)]
    assert verdicts.count("flat") >= 95, verdicts


def test_a_real_drop_is_found_once_there_are_enough_cases() -> None:
    assert trend_verdict(family([0.30, 0.20], cases=100)) == "flat"
    assert trend_verdict(family([0.30, 0.20], cases=2000)) == "inverse"


def test_the_gate_test_is_one_sided() -> None:
    """Only "got worse" counts: its p-value is half the two-sided one, and an improvement is never significant."""
    assert mcnemar_one_sided(10, 2) == pytest.approx(mcnemar_exact(10, 2) / 2)
    assert mcnemar_one_sided(2, 10) > 0.99
    assert mcnemar_one_sided(0, 0) == 1.0


def test_chi_square_against_uniform_matches_known_quantiles() -> None:
    # 95th percentiles of chi-square with 1 and 10 degrees of freedom
    assert _upper_regularized_gamma(0.5, 3.841459 / 2) == pytest.approx(0.05, abs=1e-6)
    assert _upper_regularized_gamma(5, 18.30704 / 2) == pytest.approx(0.05, abs=1e-6)
    assert chi_square_uniform([50, 50, 50, 50])[1] == pytest.approx(1.0)
    assert chi_square_uniform([9, 40, 50, 72, 29])[1] < 1e-6  # the few-shot axis Hypothesis' own sampler drew


def test_holm_rejects_step_down() -> None:
    assert holm_levels([0.01, 0.04, 0.03], 0.05) == [pytest.approx(0.05 / 3), None, None]
    assert holm_levels([0.001, 0.02, 0.04], 0.05) == [pytest.approx(0.05 / 3), pytest.approx(0.025), 0.05]


def test_trends_across_behaviours_are_holm_corrected() -> None:
    """Nine flat behaviours in a run: across 100 runs at most 5% call any trend; a strong trend is still called."""
    runs_with_a_trend = sum(
        any(
            verdict != "flat"
            for verdict in trend_verdicts([family([0.3, 0.3], cases=200, seed=seed * 9 + b) for b in range(9)])
        )
        for seed in range(100)
    )
    assert runs_with_a_trend <= 5
    strong = trend_verdicts([family([0.35, 0.05]), *(family([0.3, 0.3], seed=b) for b in range(8))])
    assert strong[0] == "inverse"


def test_pairs_are_compared_on_the_cases_both_sizes_answered() -> None:
    """None is a case a size gave no verdict on (it stopped earlier): left out of that pair only."""
    first = [True] * 20 + [None] * 10
    second = [False] * 30
    assert compare_paired(first, second) == compare_paired([True] * 20, [False] * 20)
    assert compare_anytime(first, second) == compare_anytime([True] * 20, [False] * 20)
    assert compare_anytime([None, None], [True, False]).p_value == 1.0


def test_the_anytime_test_is_the_paired_sequence_fed_in_stream_order() -> None:
    first, second = family([0.6, 0.3], cases=120, seed=3)
    sequence = PairedSequence(cap=120)
    decision = sequence.feed(first, second)
    comparison = compare_anytime(first, second)
    assert comparison.p_value == decision.p_value and comparison.direction == -1
    assert comparison.p_value > compare_paired(first, second).p_value  # validity under optional stopping costs power


def test_sequential_trends_use_the_anytime_p_values() -> None:
    """One rule, two p-value sources: a drop McNemar finds significant at n=60 that the anytime test does not."""
    drop = [[True] * 60, [True] * 52 + [False] * 8]
    assert compare_paired(*drop).p_value < 0.01 < 0.05 < compare_anytime(*drop).p_value
    assert trend_verdict(drop) == "inverse" and trend_verdict(drop, compare=compare_anytime) == "flat"
    assert trend_p_value(drop, compare=compare_anytime) == compare_anytime(*drop).p_value
    strong = [[True] * 60, [False] * 60]
    assert trend_verdicts([strong, drop], compare=compare_anytime) == ["inverse", "flat"]


def test_a_pair_decided_at_the_stopping_level_is_a_trend_under_holm() -> None:
    alpha = pair_stopping_alpha(sizes=3, behaviours=9)
    assert alpha == pytest.approx(0.05 / 3 / 9)
    assert pair_stopping_alpha(sizes=1, behaviours=1) == 0.05
