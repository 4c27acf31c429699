"""The plugin end to end through pytester, with scripted models whose answers are known by construction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests import scripted
from tests.project import BEHAVIOUR, examples, results


def test_rates_follow_the_scripted_answers_and_the_table_is_ordered_by_size(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "200")
    outcome.assert_outcomes(passed=1, failed=1)
    outcome.stdout.re_match_lines(
        [
            r"behaviour\s+completes\s+obeys",
            r"repetition_suppression\s+0\.00 \[0\.00,0\.02\] \(n=2\d\d\) loss 5\.01 prior 0\.00\s+1\.00 \[0\.98,1\.00\] \(n=2\d\d\) loss 0\.01 prior 0\.00\s+standard",
        ]
    )
    by_model = {row["model"]: row for row in results(suite)["results"]}
    assert by_model["completes"]["rate"] == 0.0 and by_model["completes"]["status"] == "failed"
    assert by_model["obeys"]["rate"] == 1.0 and by_model["obeys"]["status"] == "passed"
    assert by_model["obeys"]["n"] >= 190
    assert by_model["completes"]["ci_low"] == 0.0 and 0.0 < by_model["completes"]["ci_high"] < 0.03
    assert by_model["completes"]["loss"] == pytest.approx(5.0067, abs=1e-3) and by_model["completes"]["loss_ci"] == 0.0


def test_the_plugin_registers_its_behaviour_marker(suite: pytest.Pytester) -> None:
    """A project that loads the plugin needs no marker list of its own, even under --strict-markers."""
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "5", "--strict-markers")
    outcome.assert_outcomes(passed=1, failed=1)
    assert "PytestUnknownMarkWarning" not in outcome.stdout.str()


def test_failure_shows_the_rate_and_hypothesis_minimal_example(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--model-sizes", "completes")
    outcome.stdout.fnmatch_lines(
        [
            "*repetition_suppression on completes: pass rate 0.000 (0/*) is below the required 0.50",
            "Minimal failing example (shrunk by Hypothesis for this model):",
            "AssertionError: the model preferred ' B' * over the right answer ' A' *",
            "*case=Case(*template='seed-alternating'*repetitions=3*",
        ]
    )
    assert "repetitions=3" in results(suite)["results"][0]["minimal_failing_example"]


def test_every_example_is_recorded_and_every_size_sees_the_same_cases(suite: pytest.Pytester) -> None:
    suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "150")
    frame = examples(suite)
    ids = {model: set(group["case_id"]) for model, group in frame.groupby("model")}
    assert ids["completes"] == ids["obeys"]
    assert len(ids["obeys"]) == len(frame) // 2 >= 140
    assert frame.groupby("model")["passed"].mean().to_dict() == {"completes": 0.0, "obeys": 1.0}
    assert {"case_id", "axis_template", "axis_repetitions", "prompt", "classes", "logprobs", "passed"} <= set(frame)


def test_cases_are_spread_over_every_template_and_repetition_count(suite: pytest.Pytester) -> None:
    from generators import TEMPLATES

    suite.runpytest("behaviours/", "--model-family", "scripted", "--model-sizes", "obeys", "--examples", "400")
    axes = results(suite)["behaviours"]["repetition_suppression"]["axes"]
    assert set(axes["template"]) == {template.id for template in TEMPLATES}
    assert set(axes["repetitions"]) == {str(count) for count in range(3, 11)}
    assert set(axes["mentions_forbidden"]) == {"False", "True"} and "answer_position" not in axes


def test_hypothesis_seed_changes_the_cases(suite: pytest.Pytester) -> None:
    suite.runpytest("behaviours/", "--model-family", "scripted", "--model-sizes", "obeys", "--examples", "50")
    first = set(examples(suite)["case_id"])
    suite.runpytest(
        "behaviours/",
        "--model-family",
        "scripted",
        "--model-sizes",
        "obeys",
        "--examples",
        "50",
        "--hypothesis-seed",
        "7",
    )
    assert set(examples(suite)["case_id"]) != first
    assert results(suite)["run"]["seed"] == 7


def test_one_model_in_memory_loaded_once_each_in_size_order(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        **{
            "behaviours/test_second.py": BEHAVIOUR.read_text().replace(
                "def test_repetition_suppression", "def test_second_behaviour"
            )
        }
    )
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "20")
    outcome.assert_outcomes(passed=2, failed=2)
    assert scripted.LOADED == ["completes", "obeys"]
    assert scripted.MAX_LIVE[0] == 1 and scripted.LIVE == []


def test_required_rate_can_be_overridden(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "20", "--required-rate", "0")
    outcome.assert_outcomes(passed=2)


def test_a_model_that_fails_to_load_is_reported_and_the_others_still_run(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "half-broken", "--examples", "20")
    outcome.assert_outcomes(passed=1, failed=1, errors=1)
    assert outcome.ret == 6  # a model could not be loaded: more than a missed bar
    outcome.stdout.re_match_lines(
        [
            r"repetition_suppression\s+0\.00 \[0\.00,0\.16\] \(n=20\) loss 5\.01 prior 0\.00\s+error\s+"
            r"1\.00 \[0\.84,1\.00\] \(n=20\) loss 0\.01 prior 0\.00"
        ]
    )
    by_model = {row["model"]: row for row in results(suite)["results"]}
    assert by_model["broken"]["status"] == "error" and by_model["broken"]["error_kind"] == "model"
    assert by_model["broken"]["error"] == (
        "could not load broken (python tests.scripted:broken): RuntimeError: scripted load failure (fix the factory "
        "tests.scripted:broken or leave this size out with --model-sizes)"
    )


def test_deselected_sizes_are_left_out(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "20", "-k", "obeys")
    outcome.assert_outcomes(passed=1)
    assert [row["model"] for row in results(suite)["results"]] == ["obeys"]


def test_results_json_records_the_run(suite: pytest.Pytester) -> None:
    suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "20")
    document = results(suite)
    run = document["run"]
    assert run["family"] == "scripted" and run["seed"] == 0 and run["examples_per_behaviour"] == 20
    assert {"python", "torch", "transformers", "hypothesis"} <= set(run["versions"])
    assert "population" in run and run["finished"]
    assert [(model["label"], model["params"]) for model in document["models"]] == [("completes", 1000), ("obeys", 2000)]
    table = (suite.path / "scalecheck-report" / "table.md").read_text()
    assert table.startswith("| behaviour") and "| repetition_suppression |" in table


def _rated_family(name: str, rates: list[float]) -> str:
    sizes = ", ".join(
        f'{{label = "{name}{i}@{rate:.2f}", python = "tests.scripted:with_rate", params = {10 ** (i + 3)}}}'
        for i, rate in enumerate(rates)
    )
    return f"[tool.scalecheck.families.{name}]\nsizes = [{sizes}]\n"


@pytest.mark.parametrize(
    ("rates", "verdict"),
    [
        ([0.9, 0.6, 0.3, 0.1], "inverse"),
        ([0.1, 0.4, 0.8], "standard"),
        ([0.8, 0.2, 0.8], "U-shaped"),
        ([0.2, 0.8, 0.2], "inverted-U"),
        ([0.5, 0.5, 0.5, 0.5], "flat"),
    ],
)
def test_trend_verdict_of_a_scripted_family(suite: pytest.Pytester, rates: list[float], verdict: str) -> None:
    suite.makepyprojecttoml(_rated_family("shaped", rates))
    outcome = suite.runpytest("behaviours/", "--model-family", "shaped", "--examples", "120", "--required-rate", "0")
    outcome.stdout.re_match_lines([rf"repetition_suppression\s+.*\s{verdict}\s*$"])
    report = (suite.path / "scalecheck-report" / "report.md").read_text()
    assert re.search(rf"\| {verdict}\s*\|", report)


def test_breakdown_by_an_axis(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest(
        "behaviours/", "--model-family", "scripted", "--examples", "100", "--breakdown", "repetitions"
    )
    outcome.stdout.fnmatch_lines(
        ["repetition_suppression by repetitions:", "*repetitions*completes*obeys*", "3 *0.00 (n=*1.00 (n=*"]
    )
    assert (suite.path / "scalecheck-report" / "breakdown-repetition_suppression-repetitions.csv").is_file()
    assert "### repetition_suppression by repetitions" in (suite.path / "scalecheck-report" / "report.md").read_text()


def test_report_is_appended_to_the_github_job_summary(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = suite.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "20")
    text = summary.read_text()
    assert text.startswith("## scalecheck: scripted") and "Minimal failing example per size" in text


BAD_OPTIONS = {
    "unknown-family": (["--model-family", "nope"], "unknown --model-family 'nope'; choose one of *scripted*"),
    "unknown-size": (
        ["--model-family", "scripted", "--model-sizes", "7b"],
        "--model-sizes 7b not in family 'scripted'; available: *",
    ),
    "missing-model-path": (["--model-path", "no/such/dir"], "--model-path no/such/dir: no such directory*"),
    "empty-model-path": (["--model-path", "empty"], "--model-path empty: no config.json inside*"),
    "zero-examples": (["--model-family", "scripted", "--examples", "0"], "--examples must be at least 1, got 0"),
    "negative-examples": (["--model-family", "scripted", "--examples", "-5"], "--examples must be at least 1, got -5"),
    "examples-not-a-number": (
        ["--model-family", "scripted", "--examples", "abc"],
        "*: error: argument --examples: invalid int value: 'abc'",
    ),
    "rate-above-one": (
        ["--model-family", "scripted", "--required-rate", "2"],
        "--required-rate must be between 0 and 1, got 2.0",
    ),
    "unknown-device": (
        ["--model-family", "scripted", "--device", "tpu"],
        "--device 'tpu' is not one of auto|cpu|cuda[[]:n[]]",
    ),
    "cuda-without-gpu": (
        ["--model-family", "scripted", "--device", "cuda"],
        "--device cuda: torch sees no CUDA device here; use --device cpu (or auto)",
    ),
    "unknown-dtype": (["--model-family", "scripted", "--dtype", "float8"], "--dtype 'float8' is not one of *"),
    "confidence-outside-0-1": (
        ["--model-family", "scripted", "--confidence", "1.5"],
        "--confidence must be strictly between 0 and 1, got 1.5: e.g. 0.95",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_options_give_a_one_line_error(suite: pytest.Pytester, case: str) -> None:
    import torch

    if case == "cuda-without-gpu" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    arguments, message = BAD_OPTIONS[case]
    suite.mkdir("empty")
    outcome = suite.runpytest("behaviours/", *arguments)
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR and scripted.LOADED == []
    outcome.stderr.fnmatch_lines([message if message.startswith("*") else f"ERROR: {message}"])


def test_invalid_strategy_arguments_fail_at_collection(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        **{
            "behaviours/test_bad.py": "from hypothesis import given\n"
            "from generators import repetition_suppression_cases, repetitions\n"
            "@given(case=repetition_suppression_cases(repetition=repetitions(min_value=0)))\n"
            "def test_bad(case, lm):\n    pass\n"
        }
    )
    outcome = suite.runpytest("behaviours/test_bad.py", "--model-family", "scripted")
    assert outcome.ret == pytest.ExitCode.INTERRUPTED
    outcome.stdout.fnmatch_lines(["*InvalidArgument: repetitions(min_value=0, max_value=10) needs 1 <= min_value*"])


def test_runs_of_separate_sizes_merge_into_one_report(suite: pytest.Pytester) -> None:
    from reports.__main__ import main

    for size in ("obeys", "completes"):
        suite.runpytest(
            "behaviours/", "--model-family", "scripted", "--model-sizes", size, "--examples", "50",
            "--report-dir", f"run-{size}",
        )  # fmt: skip
    merged = suite.path / "merged"
    assert main(["merge", str(suite.path / "run-obeys"), str(suite.path / "run-completes"), "--out", str(merged)]) == 0
    document = json.loads((merged / "results.json").read_text())
    assert [model["label"] for model in document["models"]] == ["completes", "obeys"]
    assert {(row["model"], row["rate"]) for row in document["results"]} == {("completes", 0.0), ("obeys", 1.0)}
    assert "| standard" in (merged / "table.md").read_text()
    assert (merged / "accuracy_vs_params.png").is_file()


def test_merging_runs_with_different_cases_is_refused(suite: pytest.Pytester, capsys: pytest.CaptureFixture) -> None:
    from reports.__main__ import main

    for size, seed in (("obeys", "1"), ("completes", "2")):
        suite.runpytest(
            "behaviours/", "--model-family", "scripted", "--model-sizes", size, "--examples", "30",
            "--hypothesis-seed", seed, "--report-dir", f"run-{size}",
        )  # fmt: skip
    folders = [str(suite.path / "run-obeys"), str(suite.path / "run-completes")]
    assert main(["merge", *folders, "--out", str(suite.path / "merged")]) == 2
    assert "repetition_suppression was asked different cases in" in capsys.readouterr().err
    assert not (suite.path / "merged").exists()


def test_a_revision_family_runs_in_training_token_order(suite: pytest.Pytester) -> None:
    suite.makepyprojecttoml(
        "[tool.scalecheck.families.steps]\n"
        'scale = "tokens"\n'
        "sizes = [\n"
        '  {label = "late@0.10", python = "tests.scripted:with_rate", revision = "step9", tokens = 9000, params = 5},\n'
        '  {label = "early@0.90", python = "tests.scripted:with_rate", revision = "step1", tokens = 1000, params = 5},\n'
        "]\n"
    )
    outcome = suite.runpytest("behaviours/", "--model-family", "steps", "--examples", "100", "--required-rate", "0")
    outcome.stdout.re_match_lines(
        [r"behaviour\s+early@0\.90\s+late@0\.10\s+trend", r"repetition_suppression\s.*inverse"]
    )
    document = results(suite)
    assert document["run"]["scale"] == "tokens"
    assert [(model["label"], model["tokens"]) for model in document["models"]] == [
        ("early@0.90", 1000),
        ("late@0.10", 9000),
    ]
    assert (suite.path / "scalecheck-report" / "accuracy_vs_params.png").is_file()


def test_local_checkpoints_run_in_the_order_given(suite: pytest.Pytester, tmp_path: Path) -> None:
    """--model-path loads real (tiny, random) transformers checkpoints through the same code path as the hub."""
    from tests.tiny_models import build_tiny_model

    late = build_tiny_model("gpt2", tmp_path / "step-2000", seed=2)
    early = build_tiny_model("opt", tmp_path / "step-1000", seed=1)
    outcome = suite.runpytest(
        "behaviours/", "--model-path", str(late), "--model-path", str(early), "--examples", "30", "--required-rate", "0"
    )
    outcome.assert_outcomes(passed=2)
    document = results(suite)
    assert document["run"]["family"] == "checkpoints"
    assert [model["label"] for model in document["models"]] == ["step-2000", "step-1000"]
    assert all(model["params"] > 0 and model["source"] == "path" for model in document["models"])
    frame = examples(suite)
    assert frame["logprobs"].map(lambda text: all(value < 0 for value in json.loads(text))).all()


def test_a_costly_behaviour_declares_fewer_examples_and_the_option_overrides_it(suite: pytest.Pytester) -> None:
    (suite.path / "behaviours" / BEHAVIOUR.name).write_text(
        BEHAVIOUR.read_text().replace(
            "@pytest.mark.behaviour(required_rate=0.5)", "@pytest.mark.behaviour(examples=30)"
        )
    )
    suite.runpytest("behaviours/", "--model-family", "scripted", "--model-sizes", "obeys")
    row = results(suite)["results"][0]
    assert row["examples"] == 30 and 25 <= row["n"] <= 30
    suite.runpytest("behaviours/", "--model-family", "scripted", "--model-sizes", "obeys", "--examples", "60")
    assert results(suite)["results"][0]["examples"] == 60
