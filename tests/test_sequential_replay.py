"""The replay of sequential stopping on a fixed run's results (benchmarks/sequential_replay.py) is the run that
``--sequential`` makes: the evidence for what stopping saves on the default run rests on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.sequential_replay import Cell, Reached, compare_hybrid, replay, replay_literal
from reports.results import ReportData
from reports.stats import compare_anytime, compare_paired
from reports.table import trend_table
from tests.test_plugin_sequential import rated


def assert_replay_is_the_sequential_run(suite: pytest.Pytester, family: str, examples: str) -> None:
    """Run ``family`` fixed and with --sequential; the fixed run's replay must give the sequential run's n and
    pass/fail in every cell and both runs' trends."""
    for mode in ((), ("--sequential",)):
        suite.runpytest(
            "behaviours/",
            "--model-family",
            family,
            "--examples",
            examples,
            "--report-dir",
            f"run{''.join(mode)}",
            *mode,
        )
    sequential = suite.path / "run--sequential"
    rows = json.loads((sequential / "results.json").read_text())["results"]
    replayed = replay(suite.path / "run")
    built = replayed["stops"]["built"]["repetition_suppression"]
    assert [(stop.n, stop.passes) for stop in built] == [(row["n"], row["status"] == "passed") for row in rows]
    assert replayed["trends"]["built"] == trend_table(ReportData.read(sequential))["trend"].to_dict()
    assert replayed["trends"]["fixed"] == trend_table(ReportData.read(suite.path / "run"))["trend"].to_dict()


@pytest.mark.parametrize(("small", "large"), [("0.30", "0.05"), ("0.55", "0.50")])
def test_replaying_a_fixed_run_gives_what_a_sequential_run_scores(
    suite: pytest.Pytester, small: str, large: str
) -> None:
    assert_replay_is_the_sequential_run(rated(suite, small, large), "rated", "200")


THREE_SIZES = """
[tool.scalecheck.families.three]
sizes = [
    {label = "small@0.40", python = "tests.scripted:with_rate", params = 1000},
    {label = "mid@0.15", python = "tests.scripted:with_rate", params = 2000},
    {label = "large@0.02", python = "tests.scripted:with_rate", params = 3000},
]
"""


def test_three_sizes_and_a_stream_that_is_not_a_multiple_of_the_block_replay_as_they_run(
    suite: pytest.Pytester,
) -> None:
    """Pairs with two earlier sizes each, and a last block of 5 cases."""
    suite.makepyprojecttoml(THREE_SIZES)
    assert_replay_is_the_sequential_run(suite, "three", "105")


def test_taken_literally_outcomes_not_scored_count_for_neither_the_bar_nor_the_pair() -> None:
    """Too-long cases (None) of a 105-case stream: the bar and the pair see only judged cases, the last block is 5."""
    small = [None if index % 7 == 0 else True for index in range(105)]
    large = [None if index % 7 == 0 else False for index in range(105)]
    stops = replay_literal([cell("small", small), cell("large", large)], pair_alpha=0.05)
    assert [stop.passes for stop in stops] == [True, False]
    assert all(stop.through % 20 == 0 or stop.through == 105 for stop in stops)
    assert all(stop.n == sum(passed is not None for passed in small[: stop.through]) for stop in stops)


def test_a_sequential_run_is_not_replayed(suite: pytest.Pytester) -> None:
    rated(suite, "0.30", "0.05").runpytest("behaviours/", "--model-family", "rated", "--examples", "40", "--sequential")
    with pytest.raises(SystemExit, match="replay a fixed run"):
        replay(Path(suite.path / "scalecheck-report"))


def test_a_folder_without_results_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="does not exist: give the report folder of a fixed run"):
        replay(tmp_path)


def cell(model: str, passed: list[bool | None]) -> Cell:
    return Cell("b", model, 0.5, tuple(str(index) for index in range(len(passed))), tuple(passed))


def test_taken_literally_a_pair_that_never_decides_keeps_both_sizes_to_the_cap() -> None:
    """Both sizes fail everything: each bar is certain after one block, but no test can say the two are equal."""
    stops = replay_literal([cell("small", [False] * 200), cell("large", [False] * 200)], pair_alpha=0.05)
    assert [(stop.n, stop.passes, stop.why) for stop in stops] == [(200, False, "cap")] * 2


def test_taken_literally_a_clear_difference_stops_both_sizes_when_the_pair_decides() -> None:
    stops = replay_literal([cell("small", [True] * 200), cell("large", [False] * 200)], pair_alpha=0.05)
    assert [(stop.passes, stop.why) for stop in stops] == [(True, "decided"), (False, "decided")]
    assert stops[0].n == stops[1].n < 200


def test_the_hybrid_pair_test_uses_mcnemar_only_when_both_sizes_ran_the_whole_stream() -> None:
    """Its fixed-n part is valid only at the n fixed in advance, the whole stream; each part spends half the level."""
    first, second = [True] * 200, [False] * 12 + [True] * 188
    mcnemar, anytime = compare_paired(first, second).p_value, compare_anytime(first, second).p_value
    assert mcnemar < anytime
    assert compare_hybrid(Reached(first, True), Reached(second, True)).p_value == 2 * mcnemar
    assert compare_hybrid(Reached(first, True), Reached(second, False)).p_value == min(1.0, 2 * anytime)
    assert compare_hybrid(Reached(first, True), Reached(second, True)).direction == -1


def test_a_run_whose_test_body_rejected_examples_is_not_replayed(tmp_path: Path) -> None:
    """Its records no longer line up with the stream's blocks, so a replay would not be the run --sequential makes."""
    row = {"status": "passed", "behaviour": "b", "model": "m", "nodeid": "x", "required_rate": 0.5, "examples": 5}
    document = {
        "run": {"stopping": {"mode": "fixed"}},
        "results": [row],
        "verdicts": {"x": [{"case_id": "a", "passed": True}]},
    }
    (tmp_path / "results.json").write_text(json.dumps(document))
    with pytest.raises(SystemExit, match="recorded 1 of its 5 examples"):
        replay(tmp_path)
