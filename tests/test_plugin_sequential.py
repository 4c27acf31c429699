"""Sequential stopping end to end (issue #12): each behaviour x model stops once its verdicts are certain."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.project import examples, results

RATED = """
[tool.scalecheck.families.rated]
sizes = [
    {{label = "small@{small}", python = "tests.scripted:with_rate", params = 1000}},
    {{label = "large@{large}", python = "tests.scripted:with_rate", params = 2000}},
]
"""


def rated(suite: pytest.Pytester, small: str, large: str) -> pytest.Pytester:
    suite.makepyprojecttoml(RATED.format(small=small, large=large))
    return suite


def by_model(suite: pytest.Pytester) -> dict[str, dict[str, Any]]:
    return {row["model"]: row for row in results(suite)["results"]}


def test_clear_verdicts_stop_after_one_block(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "200", "--sequential")
    outcome.assert_outcomes(passed=1, failed=1)
    outcome.stdout.fnmatch_lines(
        [
            "repetition_suppression on completes: pass rate 0.000 (0/20) is below the required 0.50",
            "sequential bar: below, decided at n=20: pass rate 0.000 [[]0.000, 0.*] at 0.95 confidence",
        ]
    )
    outcome.stdout.re_match_lines(
        [r"repetition_suppression\s+0\.00 \[0\.00,0\.16\] \(n=20, decided\) .*1\.00 \[0\.84,1\.00\] \(n=20, decided\)"]
    )
    rows = by_model(suite)
    assert {model: (row["n"], row["stopped"], row["bar_verdict"], row["status"]) for model, row in rows.items()} == {
        "completes": (20, "decided", "below", "failed"),
        "obeys": (20, "decided", "above", "passed"),
    }
    assert len(examples(suite)) == 40


def test_a_model_at_the_bar_goes_to_the_cap_undecided_and_is_judged_as_a_fixed_run(suite: pytest.Pytester) -> None:
    outcome = rated(suite, "0.50", "0.51").runpytest(
        "behaviours/", "--model-family", "rated", "--model-sizes", "small@0.50", "--examples", "100", "--sequential"
    )
    row = by_model(suite)["small@0.50"]
    assert (row["n"], row["stopped"], row["bar_verdict"]) == (100, "cap", "undecided")
    assert row["status"] == ("passed" if row["rate"] >= 0.5 else "failed")
    assert row["stopping"]["blocks"] == [20, 40, 60, 80, 100]
    outcome.stdout.re_match_lines([r"repetition_suppression\s+0\.\d\d \[0\.\d\d,0\.\d\d\] \(n=100, undecided at cap\)"])


def test_by_default_every_example_is_scored(suite: pytest.Pytester) -> None:
    suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "60")
    document = results(suite)
    assert document["run"]["stopping"] == {"mode": "fixed"}
    assert [(row["n"], row["stopped"], row["stopping"]) for row in document["results"]] == [(60, None, None)] * 2


def test_results_json_records_the_stopping_rule_the_blocks_and_the_final_interval(suite: pytest.Pytester) -> None:
    rated(suite, "0.30", "0.05").runpytest(
        "behaviours/", "--model-family", "rated", "--examples", "200", "--sequential"
    )
    document = results(suite)
    assert document["run"]["stopping"] == {"mode": "sequential", "confidence": 0.95, "block": 20}
    record = by_model(suite)["large@0.05"]["stopping"]
    assert {"rule", "block", "confidence", "cap", "through", "blocks", "stopped", "bar", "pairs", "gate"} <= set(record)
    assert record["rule"] == "sequential" and record["block"] == 20 and record["cap"] == 200
    assert record["blocks"] == list(range(20, record["through"] + 1, 20))
    bar = record["bar"]
    assert bar["verdict"] == "below" and bar["interval"][1] < 0.5 and "Waudby-Smith" in bar["rule"]
    assert [pair["against"] for pair in record["pairs"]] == ["small@0.30"] and record["gate"] is None


def test_a_later_size_keeps_drawing_for_its_pair_with_the_earlier_one(suite: pytest.Pytester) -> None:
    """Its own bar is certain after one block; it stops only when the pair is decided or no shared case is left."""
    rated(suite, "0.30", "0.05").runpytest(
        "behaviours/", "--model-family", "rated", "--examples", "200", "--sequential"
    )
    rows = by_model(suite)
    small, large = rows["small@0.30"], rows["large@0.05"]
    pair = large["stopping"]["pairs"][0]
    assert large["stopping"]["bar"]["n"] == 20 < large["n"] <= small["n"]
    assert (pair["stopped"] == "decided" and pair["n"] == large["n"]) or (
        pair["stopped"] == "exhausted" and large["n"] == small["n"]
    )
    frame = examples(suite)
    streams = {model: list(rows["case_id"]) for model, rows in frame.groupby("model")}
    assert streams["large@0.05"] == streams["small@0.30"][: large["n"]]  # a prefix of the same stream


def test_a_sequential_trend_uses_anytime_p_values(suite: pytest.Pytester) -> None:
    outcome = rated(suite, "0.95", "0.05").runpytest(
        "behaviours/", "--model-family", "rated", "--examples", "200", "--required-rate", "0.5", "--sequential"
    )
    outcome.stdout.re_match_lines([r"repetition_suppression\s+.*\(n=\d+, decided\).*\(n=\d+, decided\).*\sinverse\s*$"])
    assert "anytime-valid paired betting test" in (suite.path / "scalecheck-report" / "report.md").read_text()


GATE = """
[tool.scalecheck.families.release]
sizes = [{label = "m@0.80", python = "tests.scripted:with_rate", params = 1000}]

[tool.scalecheck.families.candidates]
sizes = [{label = "new@0.30", python = "tests.scripted:with_rate", params = 1001}]
"""


def test_the_gate_stops_early_on_a_big_regression(suite: pytest.Pytester) -> None:
    suite.makepyprojecttoml(GATE)
    suite.runpytest("behaviours/", "--model-family", "release", "--examples", "200", "--save-baseline", "rel")
    outcome = suite.runpytest(
        "behaviours/", "--model-family", "candidates", "--examples", "200", "--compare", "rel:m@0.80", "--sequential"
    )
    outcome.assert_outcomes(failed=1)
    row = results(suite)["results"][0]
    gate = row["stopping"]["gate"]
    assert gate["verdict"] == "regression" and gate["stopped"] == "decided" and row["n"] < 200
    assert (
        row["baseline_verdict"].startswith("regression vs rel:m@0.80: 0.7")
        and f"anytime-valid gate, decided at n={gate['n']}" in row["baseline_verdict"]
    )
    outcome.stdout.fnmatch_lines(["*new@0.30: regression vs rel:m@0.80*anytime-valid gate, decided at n=*"])


def test_runs_of_separate_sizes_merge_though_they_stopped_at_different_n(suite: pytest.Pytester) -> None:
    from reports.__main__ import main

    rated(suite, "0.30", "0.02")
    for size in ("small@0.30", "large@0.02"):
        suite.runpytest(
            "behaviours/", "--model-family", "rated", "--model-sizes", size, "--examples", "200", "--sequential",
            "--report-dir", f"run-{size}",
        )  # fmt: skip
    merged = suite.path / "merged"
    folders = [str(suite.path / "run-small@0.30"), str(suite.path / "run-large@0.02")]
    assert main(["merge", *folders, "--out", str(merged)]) == 0
    document = json.loads((merged / "results.json").read_text())
    assert document["run"]["stopping"]["mode"] == "sequential"
    assert sorted(row["n"] for row in document["results"]) != [200, 200]
