"""When one behaviour x model stops: its bar, its pairs with earlier sizes, the gate (runner/stopping.py)."""

from __future__ import annotations

import random

from runner.stopping import BLOCK, SizeOutcomes, SizeStopping


def stream(rate: float, cases: int = 200, seed: int = 0) -> list[tuple[str, bool | None]]:
    rng = random.Random(seed)
    return [(f"case{i}", rng.random() < rate) for i in range(cases)]


def run(stopping: SizeStopping, outcomes: list[tuple[str, bool | None]]) -> SizeStopping:
    """Feed blocks as the plugin does until the size may stop or the stream ends."""
    for start in range(0, len(outcomes), BLOCK):
        stopping.feed(outcomes[start : start + BLOCK], through=min(start + BLOCK, len(outcomes)))
        if stopping.done:
            break
    return stopping


def test_a_clear_bar_verdict_stops_after_one_block() -> None:
    stopping = run(SizeStopping(bar=0.5, confidence=0.95, cap=200), stream(0.0))
    record = stopping.record()
    assert (stopping.n, record["stopped"], record["bar"]["verdict"], record["blocks"]) == (20, "decided", "below", [20])
    assert record["bar"]["interval"][1] < 0.5 and record["through"] == 20 and record["pairs"] == []


def test_a_rate_at_the_bar_goes_to_the_cap_undecided() -> None:
    outcomes = [(f"case{i}", i % 2 == 0) for i in range(200)]
    stopping = run(SizeStopping(bar=0.5, confidence=0.95, cap=200), outcomes)
    assert (stopping.n, stopping.stopped, stopping.bar.decision.verdict) == (200, "cap", "undecided")
    assert stopping.record()["blocks"] == list(range(20, 201, 20))


def test_unjudged_examples_count_toward_the_stream_not_toward_n() -> None:
    outcomes: list[tuple[str, bool | None]] = [(f"case{i}", None if i % 4 == 0 else False) for i in range(40)]
    stopping = run(SizeStopping(bar=0.5, confidence=0.95, cap=40), outcomes)
    assert stopping.blocks[0] == 15 and stopping.through >= 20


def test_a_size_keeps_drawing_until_its_pair_with_an_earlier_size_is_decided() -> None:
    earlier = dict(stream(0.3, seed=1))
    current = [(key, False) for key in earlier]
    alone = run(SizeStopping(bar=0.5, confidence=0.95, cap=200), current)
    sizes = [SizeOutcomes("small", earlier, through=200)]
    paired = run(SizeStopping(bar=0.5, confidence=0.95, cap=200, earlier=sizes, pair_alpha=0.05), current)
    pair = paired.record()["pairs"][0]
    assert alone.n == BLOCK and paired.n > BLOCK and paired.stopped == "decided"
    assert (pair["against"], pair["verdict"], pair["stopped"], pair["n"]) == ("small", "worse", "decided", paired.n)


def test_a_pair_is_done_once_the_earlier_size_has_no_more_shared_cases() -> None:
    earlier = dict(stream(0.0)[:40])
    sizes = [SizeOutcomes("small", earlier, through=40)]
    stopping = run(SizeStopping(bar=0.5, confidence=0.95, cap=200, earlier=sizes), stream(0.0))
    pair = stopping.record()["pairs"][0]
    assert stopping.n == 40 and stopping.stopped == "decided"
    assert (pair["verdict"], pair["stopped"], pair["n"]) == ("undecided", "exhausted", 40)
    assert stopping.describe(final=True) == (
        "n=40: bar below at n=20, vs small undecided (no more shared cases); stopped: decided"
    )


def test_the_gate_stops_as_soon_as_a_regression_is_certain() -> None:
    baseline = {key: True for key, _ in stream(0.0)}
    stopping = run(
        SizeStopping(bar=0.0, confidence=0.95, cap=200, baseline=baseline, gate_alpha=0.05),
        [(key, index % 10 == 0) for index, key in enumerate(baseline)],
    )
    assert stopping.gate_decision is not None and stopping.gate_decision.verdict == "regression"
    assert stopping.n < 200 and stopping.record()["gate"]["stopped"] == "decided"
