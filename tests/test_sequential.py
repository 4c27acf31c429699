"""Anytime-valid stopping rules on streams whose truth is known by construction (seeded, small)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from runner.sequential import (
    ConfidenceSequence,
    GateSequence,
    PairedSequence,
    RateSequence,
    batch_decisions,
)


def streams(rate: float, runs: int, cap: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random((runs, cap)) < rate).astype(float)


def run_in_blocks(sequence: RateSequence, stream: np.ndarray, block: int) -> None:
    while not sequence.decision.done:
        start = sequence.decision.n
        sequence.feed(stream[start : start + min(block, sequence.remaining)])


@pytest.mark.parametrize("rate", [0.05, 0.5, 0.8])
def test_the_sequence_covers_the_true_mean_at_every_n(rate: float) -> None:
    """95% sequences over 200 observations: the running intersection misses the truth in at most 5% of runs."""
    misses = 0
    runs = 100
    for stream in streams(rate, runs, 200, seed=1):
        sequence = ConfidenceSequence(alpha_lower=0.025, alpha_upper=0.025, resolution=200)
        for start in range(0, 200, 40):
            sequence.update(stream[start : start + 40])
        low, high = sequence.interval()  # the intersection so far: inside it now means inside it at every n
        misses += not low <= rate <= high
    assert misses <= 0.05 * runs


def test_coverage_for_three_valued_paired_differences() -> None:
    rng = np.random.default_rng(2)
    misses = 0
    for _ in range(100):
        values = rng.choice([0.0, 0.5, 1.0], size=150, p=[0.2, 0.7, 0.1])  # mean 0.45
        sequence = ConfidenceSequence(alpha_lower=0.025, alpha_upper=0.025, resolution=200)
        sequence.update(values)
        low, high = sequence.interval()
        misses += not low <= 0.45 <= high
    assert misses <= 5


def test_the_interval_narrows_and_tracks_the_mean() -> None:
    sequence = ConfidenceSequence(alpha_lower=0.025, alpha_upper=0.025)
    assert sequence.interval() == (0.0, 1.0) and math.isnan(sequence.mean)
    widths = []
    for block in streams(0.3, 1, 400, seed=3)[0].reshape(4, 100):
        sequence.update(block)
        low, high = sequence.interval()
        assert low <= sequence.mean <= high
        widths.append(high - low)
    assert widths == sorted(widths, reverse=True) and widths[-1] < 0.2


def test_all_passes_are_above_and_all_fails_below_within_one_block() -> None:
    above = RateSequence(0.5).feed([True] * 20)
    assert (above.verdict, above.stopped, above.n) == ("above", "decided", 20)
    assert above.interval[0] > 0.5 and above.p_value <= 0.05
    below = RateSequence(0.5).feed([False] * 20)
    assert (below.verdict, below.stopped) == ("below", "decided") and below.interval[1] < 0.5


def test_a_stream_at_the_bar_stays_undecided_at_the_cap() -> None:
    sign, n = batch_decisions(streams(0.5, 1000, 200, seed=4), 0.5, alpha_up=0.025, alpha_down=0.025, block=20)
    assert (sign == 0).mean() >= 0.9 and (sign != 0).mean() <= 0.05
    assert np.all(n[sign == 0] == 200)
    sequence = RateSequence(0.5, cap=60)
    for _ in range(3):
        decision = sequence.feed([True, False] * 10)
    assert (decision.verdict, decision.stopped, decision.n) == ("undecided", "cap", 60)
    assert decision.describe().startswith("undecided at the cap (n=60)") and sequence.remaining == 0


@pytest.mark.parametrize("rate", [0.2, 0.35, 0.7])
def test_wrong_verdicts_are_rare_and_right_ones_come_early(rate: float) -> None:
    sign, n = batch_decisions(streams(rate, 1000, 200, seed=5), 0.5, alpha_up=0.025, alpha_down=0.025, block=20)
    right = 1 if rate > 0.5 else -1
    assert (sign == -right).mean() <= 0.01
    assert (sign == right).mean() >= 0.8 and n.mean() < 150


def test_a_verdict_does_not_depend_on_how_the_stream_was_cut_into_blocks() -> None:
    """Block b stops at the first block end at or after block 1's stop, with the same verdict and interval there."""
    for stream in streams(0.72, 15, 200, seed=6):
        single = RateSequence(0.5)
        run_in_blocks(single, stream, 1)
        first = single.decision
        for block in (7, 20, 64):
            blocked = RateSequence(0.5)
            run_in_blocks(blocked, stream, block)
            assert blocked.decision.verdict == first.verdict
            assert blocked.decision.n == min(200, -(-first.n // block) * block)
        whole = ConfidenceSequence(alpha_lower=0.025, alpha_upper=0.025, nulls=(0.5,))
        whole.update(stream[:140])
        pieces = ConfidenceSequence(alpha_lower=0.025, alpha_upper=0.025, nulls=(0.5,))
        for start in range(0, 140, 7):
            pieces.update(stream[start : start + 7])
        assert pieces.interval() == whole.interval() and pieces.crossing(0.5) == whole.crossing(0.5)


def test_the_sequences_decide_as_the_batch_simulation_does() -> None:
    """The simulation study measures exactly what the public classes do."""
    rng = np.random.default_rng(7)
    for rate in (0.3, 0.5, 0.62):
        batch = streams(rate, 20, 120, seed=8)
        signs, ns = batch_decisions(batch, 0.5, alpha_up=0.025, alpha_down=0.025, block=20)
        for stream, sign, n in zip(batch, signs, ns, strict=True):
            sequence = RateSequence(0.5, cap=120)
            run_in_blocks(sequence, stream, 20)
            assert sequence.decision.n == n
            assert sequence.decision.verdict == {1: "above", -1: "below", 0: "undecided"}[int(sign)]
    baseline = rng.random((20, 100)) < 0.6
    current = baseline & (rng.random((20, 100)) > 0.2)
    signs, ns = batch_decisions(
        (current - baseline.astype(float) + 1) / 2, 0.5, alpha_up=0.05, alpha_down=0.05, block=25
    )
    for a, b, sign, n in zip(baseline, current, signs, ns, strict=True):
        gate = GateSequence(cap=100)
        while not gate.decision.done:
            start = gate.decision.n
            gate.feed(a[start : start + 25], b[start : start + 25])
        assert gate.decision.n == n
        assert gate.decision.verdict == {1: "no regression", -1: "regression", 0: "undecided"}[int(sign)]


def test_identical_outcomes_never_show_a_difference() -> None:
    rng = np.random.default_rng(9)
    same = rng.random(200) < 0.4
    paired = PairedSequence(alpha=0.05, cap=200)
    gate = GateSequence(alpha=0.05, cap=200)
    for start in range(0, 200, 20):
        decision = paired.feed(same[start : start + 20], same[start : start + 20])
        gated = gate.feed(same[start : start + 20], same[start : start + 20])
        assert decision.p_value == 1.0 and gated.p_value == 1.0
    assert (decision.verdict, decision.stopped, decision.estimate) == ("undecided", "cap", 0.0)
    assert (gated.verdict, gated.stopped) == ("undecided", "cap")
    low, high = decision.interval
    assert low < 0 < high


def test_paired_direction_and_the_gate() -> None:
    worse = PairedSequence().feed([True] * 20, [False] * 20)
    assert (worse.verdict, worse.stopped) == ("worse", "decided") and worse.interval[1] < 0
    better = PairedSequence().feed([False] * 20, [True] * 20)
    assert better.verdict == "better" and better.estimate == 1.0
    regression = GateSequence().feed([True] * 20, [False] * 20)
    assert regression.verdict == "regression" and regression.interval[0] > 0 and regression.p_value <= 0.05
    # Equal models with a tolerance: the drop's upper bound falls below it, and the gate stops early.
    gate = GateSequence(tolerance=0.1, cap=500)
    outcomes = np.random.default_rng(10).random(500) < 0.5
    while not gate.decision.done:
        start = gate.decision.n
        gate.feed(outcomes[start : start + 20], outcomes[start : start + 20])
    assert gate.decision.verdict == "no regression" and gate.decision.n < 200
    assert gate.decision.interval[1] < 0.1


def test_a_drop_inside_the_tolerance_is_not_a_regression() -> None:
    baseline = np.ones(200, bool)
    current = baseline.copy()
    current[::25] = False  # a drop of 0.04
    sign, _ = batch_decisions(
        ((current - baseline.astype(float)) + 1)[None, :] / 2, 0.45, alpha_up=0.05, alpha_down=0.05, block=20
    )
    assert sign[0] == 1  # against a tolerance of 0.1 (null 0.45): ruled out
    gate = GateSequence(tolerance=0.1)
    decision = gate.feed(baseline[:100], current[:100])
    assert decision.verdict in ("no regression", "undecided") and decision.verdict != "regression"


def test_bars_at_the_ends() -> None:
    assert RateSequence(1.0).feed([True] * 5 + [False] * 15).verdict == "below"
    everything = RateSequence(1.0, cap=40)
    everything.feed([True] * 20)
    assert everything.feed([True] * 20).verdict == "undecided"  # a perfect record can never prove a rate above 1
    assert RateSequence(0.0).feed([True] * 20).verdict == "above"


def test_decisions_are_deterministic_and_recorded_as_json() -> None:
    stream = streams(0.66, 1, 200, seed=11)[0]
    first, second = RateSequence(0.5), RateSequence(0.5)
    run_in_blocks(first, stream, 20)
    run_in_blocks(second, stream, 20)
    assert first.decision == second.decision
    record = json.loads(json.dumps(first.decision.as_record()))
    assert record["blocks"] == [20] * (first.decision.n // 20) and record["stopped"] == "decided"
    assert record["rule"].startswith("anytime-valid betting test of the pass rate against 0.5")
    assert len(record["interval"]) == 2


def test_the_simulation_study_is_seeded() -> None:
    from benchmarks.sequential_errors import bernoulli, simulate

    def once() -> tuple[list[int], list[int]]:
        outcome = simulate(
            bernoulli(0.6), 0.5, (0.025, 0.025), runs=50, cap=100, block=20, rng=np.random.default_rng(12)
        )
        return outcome.sign.tolist(), outcome.n.tolist()

    assert once() == once()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: RateSequence(0.5, confidence=1.0), "confidence must be strictly between 0 and 1"),
        (lambda: RateSequence(0.5, confidence=0), "confidence must be strictly between 0 and 1"),
        (lambda: RateSequence(0.5, cap=0), "cap must be a whole number of at least 1"),
        (lambda: RateSequence(0.5, cap=2.5), "cap must be a whole number"),  # type: ignore[arg-type]
        (lambda: RateSequence(1.5), "required rate must be in [0, 1]"),
        (lambda: PairedSequence(alpha=0), "alpha must be strictly between 0 and 1"),
        (lambda: GateSequence(tolerance=1.0), "tolerance must be in [0, 1)"),
        (lambda: RateSequence(0.5).feed([]), "is empty: feed at least one"),
        (lambda: RateSequence(0.5).feed([0.5]), "must be pass/fail outcomes"),
        (lambda: RateSequence(0.5, cap=10).feed([True] * 11), "would pass the cap of 10"),
        (lambda: PairedSequence().feed([True] * 3, [True] * 2), "must be the same cases: got 3 and 2"),
        (lambda: ConfidenceSequence(alpha_lower=0.1, alpha_upper=0.1).crossing(0.3001), "pass it in nulls="),
        (lambda: ConfidenceSequence(alpha_lower=0.1, alpha_upper=0.1).update([2.0]), "must lie in [0, 1]"),
        (lambda: ConfidenceSequence(alpha_lower=0.1, alpha_upper=0.1, resolution=1), "resolution must be"),
    ],
)
def test_bad_input_is_refused_in_one_line_that_names_the_remedy(make, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as error:
        make()
    message = str(error.value)
    assert words in message and "\n" not in message


def test_a_stopped_sequence_refuses_more_cases() -> None:
    sequence = RateSequence(0.5)
    sequence.feed([True] * 20)
    assert sequence.remaining == 0
    with pytest.raises(ValueError, match="already stopped .* start a new one"):
        sequence.feed([True])
