"""The regression gate with scripted models whose per-case answers are controlled."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from generators.case import Case
from reports.baseline import BaselineError, compare_outcomes, parse_compare
from tests.project import results
from tests.scripted import obeys_at_rate

GATE_FAMILY = """
[tool.scalecheck.families.release]
sizes = [{label = "m@0.80", python = "tests.scripted:with_rate", params = 1000}]

[tool.scalecheck.families.candidates]
sizes = [
    {label = "m@0.80", python = "tests.scripted:with_rate", params = 1000},
    {label = "new@0.30", python = "tests.scripted:with_rate", params = 1001},
    {label = "better@0.99", python = "tests.scripted:with_rate", params = 1002},
    {label = "slightly@0.60", python = "tests.scripted:with_rate", params = 1003},
]
"""


@pytest.fixture
def gated(suite: pytest.Pytester) -> pytest.Pytester:
    suite.makepyprojecttoml(GATE_FAMILY)
    saved = suite.runpytest("behaviours/", "--model-family", "release", "--examples", "200", "--save-baseline", "rel")
    saved.stdout.fnmatch_lines(["baseline saved: *rel"])
    return suite


def run_against(suite: pytest.Pytester, size: str, *options: str) -> pytest.RunResult:
    """The fixed gate (every one of 200 cases, exact McNemar); tests/test_plugin_sequential.py has the sequential one."""
    return suite.runpytest(
        "behaviours/", "--model-family", "candidates", "--model-sizes", size, "--examples", "200",
        "--compare", "rel:m@0.80", *options,
    )  # fmt: skip


def verdict(suite: pytest.Pytester) -> str:
    return results(suite)["results"][0]["baseline_verdict"]


def test_baseline_files_are_plain_and_sorted(gated: pytest.Pytester) -> None:
    folder = gated.path / "baselines" / "rel"
    outcomes = pd.read_csv(folder / "outcomes.csv")
    assert list(outcomes.columns) == ["behaviour", "model", "case_id", "passed"]
    assert list(outcomes["case_id"]) == sorted(outcomes["case_id"]) and len(outcomes) >= 190
    assert json.loads((folder / "summary.json").read_text())["rates"][0]["model"] == "m@0.80"
    pinned = (folder / "pinned.jsonl").read_text().splitlines()
    assert len(pinned) == 1
    case = Case.from_dict(json.loads(pinned[0])["cases"]["case"])
    assert not obeys_at_rate("m@0.80", case.prompt)  # the pinned case is one the baseline model fails


def test_no_change_passes_even_though_the_rate_is_below_the_bar(gated: pytest.Pytester) -> None:
    outcome = run_against(gated, "m@0.80", "--required-rate", "0.99")
    outcome.assert_outcomes(passed=1)
    assert verdict(gated) == "no change vs rel:m@0.80: 0.790 -> 0.790 on 200 shared cases (one-sided exact McNemar p=1)"
    assert results(gated)["results"][0]["pinned"] == "1 of 1 pinned failing cases still fail"


def test_a_significant_regression_fails_the_session(gated: pytest.Pytester) -> None:
    outcome = run_against(gated, "new@0.30")
    outcome.assert_outcomes(failed=1)
    assert outcome.ret == pytest.ExitCode.TESTS_FAILED
    outcome.stdout.fnmatch_lines(
        [
            "*new@0.30: regression vs rel:m@0.80: 0.790 -> 0.330 on 200 shared cases (one-sided exact McNemar p=*",
            "*cases passed in the baseline and fail now, e.g.:",
        ]
    )


def test_a_drop_within_tolerance_passes(gated: pytest.Pytester) -> None:
    outcome = run_against(gated, "slightly@0.60", "--regression-tolerance", "0.3")
    outcome.assert_outcomes(passed=1)
    assert verdict(gated).startswith("within tolerance")
    run_against(gated, "slightly@0.60").assert_outcomes(failed=1)


def test_an_improvement_is_reported(gated: pytest.Pytester) -> None:
    run_against(gated, "better@0.99").assert_outcomes(passed=1)
    assert verdict(gated).startswith("improvement vs rel:m@0.80")


def test_mismatched_case_sets_are_reported_not_dropped(gated: pytest.Pytester) -> None:
    outcome = run_against(gated, "m@0.80", "--hypothesis-seed", "5")
    outcome.assert_outcomes(failed=1)
    outcome.stdout.fnmatch_lines(
        [
            "*mismatched cases vs rel:m@0.80* on 10 shared cases *; 190 cases only in the baseline, 190 only in this run",
            "remedy: *",
        ]
    )
    run_against(gated, "m@0.80", "--examples", "100")
    assert "cases only in the baseline" in verdict(gated)


def test_junit_xml_carries_rate_and_verdict(gated: pytest.Pytester) -> None:
    run_against(gated, "new@0.30", "--junitxml", "junit.xml")
    xml = (gated.path / "junit.xml").read_text()
    assert '<property name="rate" value="0.33' in xml and '<property name="baseline_verdict" value="regression' in xml


def test_an_unknown_baseline_is_a_usage_error(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--compare", "nope")
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR
    outcome.stderr.fnmatch_lines(["ERROR: no baseline 'nope' in * (saved: none); save one with --save-baseline nope"])


def test_compare_mappings() -> None:
    assert parse_compare("rel") == ("rel", None)
    assert parse_compare("rel:opt-1.3b") == ("rel", "opt-1.3b")
    assert parse_compare("rel:new=opt-1.3b,ck2=opt-2.7b") == ("rel", {"new": "opt-1.3b", "ck2": "opt-2.7b"})
    with pytest.raises(BaselineError, match="NEW=BASE"):
        parse_compare("rel:new=,x=y")


def test_paired_comparison_uses_only_shared_cases() -> None:
    before = pd.Series({"a": True, "b": True, "c": False, "d": True})
    now = pd.Series({"a": False, "b": True, "c": True, "e": False})
    comparison = compare_outcomes(now, before, name="rel", baseline_model="m", alpha=0.05, tolerance=0.0)
    assert (comparison.shared, comparison.only_baseline, comparison.only_current) == (3, 1, 1)
    assert comparison.verdict == "no change" and comparison.p_value == 0.75  # one-sided: one lost and one gained case


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", "a/b", "..", "a..b", ".hidden"])
def test_a_baseline_name_is_a_plain_name(suite: pytest.Pytester, name: str) -> None:
    for option in ("--save-baseline", "--compare"):
        outcome = suite.runpytest("behaviours/", "--model-family", "scripted", option, name)
        assert outcome.ret == pytest.ExitCode.USAGE_ERROR
        outcome.stderr.fnmatch_lines(
            [f"ERROR: {option} {name!r}: a baseline name is a plain name of letters, digits, *; use --baseline-dir *"]
        )
    assert not (suite.path / "baselines").exists() and not (suite.path.parent / "x").exists()


def test_saving_over_a_baseline_needs_the_overwrite_flag(gated: pytest.Pytester) -> None:
    saved = gated.path / "baselines" / "rel" / "outcomes.csv"
    before = saved.read_text()
    again = ("behaviours/", "--model-family", "candidates", "--model-sizes", "new@0.30", "--examples", "200")
    outcome = gated.runpytest(*again, "--save-baseline", "rel")
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR and saved.read_text() == before
    outcome.stderr.fnmatch_lines(
        [
            "ERROR: --save-baseline rel: */baselines/rel already exists and gates may compare against it; pass "
            "--overwrite-baseline to replace it, or choose another name"
        ]  # fmt: skip
    )
    gated.runpytest(*again, "--save-baseline", "rel", "--overwrite-baseline").stdout.fnmatch_lines(
        ["baseline saved: *rel"]
    )
    assert saved.read_text() != before and "new@0.30" in saved.read_text()
    assert [path.name for path in (gated.path / "baselines").iterdir()] == ["rel"]


def test_a_baseline_records_the_settings_it_was_saved_with(gated: pytest.Pytester) -> None:
    summary = json.loads((gated.path / "baselines" / "rel" / "summary.json").read_text())
    assert summary["settings"]["family"] == "release" and summary["settings"]["seed"] == 0
    assert summary["settings"]["examples_per_behaviour"] == 200 and summary["settings"]["dtype"] == "float32"
    assert "--save-baseline" in summary["settings"]["command"]
    assert summary["run"]["stop_reason"] == "completed" and summary["rates"][0]["required_rate"] == 0.5
