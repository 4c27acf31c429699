"""Bad inputs and faults end to end (docs/bad-inputs.md): each gets one line naming what failed and the remedy, at
the earliest point it can be known, an exit code that tells CI which, and a report that keeps what was finished."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from reports.exitcodes import Exit
from reports.files import hold_folder
from tests import scripted
from tests.project import examples, markdown_table_rows, results

ROOT = Path(__file__).parents[1]
TWO = ("behaviours/", "--model-family", "scripted", "--examples", "20")


def _one_line_error(outcome: pytest.RunResult, message: str) -> None:
    """The run failed with exactly one ``ERROR:`` line naming the problem, and no traceback."""
    outcome.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in outcome.stdout.str() + outcome.stderr.str()


def test_a_report_folder_in_use_by_another_run_is_refused_before_any_model_loads(suite: pytest.Pytester) -> None:
    held = hold_folder(suite.path / "scalecheck-report", "--report-dir")
    try:
        outcome = suite.runpytest(*TWO)
    finally:
        held.release()
    assert outcome.ret == Exit.USAGE and scripted.LOADED == []
    _one_line_error(outcome, "--report-dir */scalecheck-report is in use by another scalecheck run (pid *); wait *")
    assert not (suite.path / "scalecheck-report" / "results.json").exists()


def test_a_report_folder_under_a_file_is_a_usage_error_before_any_model_loads(suite: pytest.Pytester) -> None:
    (suite.path / "taken").write_text("a file, not a folder")
    outcome = suite.runpytest(*TWO, "--report-dir", "taken/report")
    assert outcome.ret == Exit.USAGE and scripted.LOADED == []
    _one_line_error(
        outcome, "--report-dir */taken/report: cannot write there (Not a directory*); give a writable folder"
    )


def test_a_report_that_cannot_be_written_is_exit_7_and_the_run_goes_on(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reports.results import ReportData

    def full_disk(self: ReportData, directory: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ReportData, "write", full_disk)
    outcome = suite.runpytest(*TWO)
    assert outcome.ret == Exit.REPORT_NOT_WRITTEN and scripted.LOADED == ["completes", "obeys"]
    outcome.stdout.fnmatch_lines(
        [
            "*[[]scalecheck] the report could not be written to */scalecheck-report: OSError: *No space left on device",
            "*repetition_suppression*0.00*1.00*",
            "scalecheck exit code 7: the report (or the baseline being saved) could not be written",
        ]
    )


def test_prompts_longer_than_the_context_are_not_scored_and_counted_apart(suite: pytest.Pytester) -> None:
    suite.makepyprojecttoml(
        '[tool.scalecheck.families.short]\nsizes = [{label = "short", python = "tests.scripted:short_context"}]\n'
    )
    outcome = suite.runpytest("behaviours/", "--model-family", "short", "--examples", "60")
    outcome.assert_outcomes(passed=1)
    [row] = results(suite)["results"]
    frame = examples(suite)
    too_long = frame[frame["too_long"]]
    assert row["too_long"] == len(too_long) > 0 and row["n"] == row["passed"] == len(frame) - len(too_long)
    assert too_long["prompt"].str.len().min() > scripted.SHORT_CONTEXT_CHARACTERS
    assert too_long["passed"].isna().all() and too_long["logprobs"].isna().all()
    assert (too_long["reason"] == "the prompt is longer than short's context of 170 tokens: not scored").all()
    assert (too_long["metric"] == "not scored").all() and not frame.loc[~frame["too_long"], "passed"].isna().any()
    note = (
        f"repetition_suppression on short: {row['too_long']} examples longer than the model's context were not "
        "scored (too long: neither passed nor failed, not in n; see examples.csv)"
    )
    outcome.stdout.fnmatch_lines([f"*(n={row['n']}; {row['too_long']} too long)*", note])
    for view in ("table.md", "report.md"):
        assert note in (suite.path / "scalecheck-report" / view).read_text()


def test_a_model_that_cannot_load_errors_its_items_in_one_line_and_the_next_size_runs(
    suite: pytest.Pytester, tmp_path: Path
) -> None:
    from tests.tiny_models import build_tiny_model

    damaged = build_tiny_model("gpt2", tmp_path / "damaged")
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    good = build_tiny_model("opt", tmp_path / "good")
    outcome = suite.runpytest(
        "behaviours/",
        "--model-path",
        str(damaged),
        "--model-path",
        str(good),
        "--examples",
        "20",
        "--required-rate",
        "0",
    )
    outcome.assert_outcomes(passed=1, errors=1)
    assert outcome.ret == Exit.MODEL_FAILED
    message = (
        f"could not load damaged (path {damaged}): SafetensorError: Error while deserializing header: * (a weights "
        "file is truncated or damaged; re-save or re-download the checkpoint)"
    )
    outcome.stdout.fnmatch_lines([message, "scalecheck exit code 6: a model could not be loaded*"])
    assert "Traceback" not in outcome.stdout.str()
    document = results(suite)
    by_model = {row["model"]: row for row in document["results"]}
    assert by_model["damaged"]["status"] == "error" and by_model["damaged"]["error_kind"] == "model"
    assert "SafetensorError" in by_model["damaged"]["error"] and by_model["good"]["status"] == "passed"
    assert "SafetensorError" in document["models"][0]["load_error"] and document["models"][1]["load_error"] is None


def test_a_model_that_fails_while_scoring_errors_its_items_not_the_behaviour(suite: pytest.Pytester) -> None:
    suite.makepyprojecttoml(
        "[tool.scalecheck.families.crashing]\nsizes = [\n"
        '  {label = "crashes", python = "tests.scripted:crashes", params = 1},\n'
        '  {label = "obeys", python = "tests.scripted:obeys", params = 2},\n]\n'
    )
    outcome = suite.runpytest("behaviours/", "--model-family", "crashing", "--examples", "20")
    outcome.assert_outcomes(passed=1, errors=1)
    assert outcome.ret == Exit.MODEL_FAILED
    by_model = {row["model"]: row for row in results(suite)["results"]}
    assert (
        by_model["crashes"]["error"]
        == "crashes failed while scoring: RuntimeError: CUDA error: device-side assert triggered"
    )
    assert by_model["crashes"]["error_kind"] == "model" and by_model["obeys"]["status"] == "passed"


def test_a_label_matplotlib_would_read_as_math_is_drawn_as_written(suite: pytest.Pytester) -> None:
    suite.makepyprojecttoml(
        '[tool.scalecheck.families.math]\nsizes = [{label = "$\\\\nope$", python = "tests.scripted:obeys", params = 1}]\n'
    )
    suite.runpytest(*TWO[:1], "--model-family", "math", "--examples", "20").assert_outcomes(passed=1)
    assert results(suite)["models"][0]["label"] == "$\\nope$"
    assert (suite.path / "scalecheck-report" / "accuracy_vs_params.png").stat().st_size > 0


BROKEN_STRATEGIES = {
    "no_symbols": (
        "from generators import Alphabet, patterns, repetition_suppression_cases\n"
        "EMPTY = Alphabet(name='empty', kind='letters', symbols=())\n"
        "@given(case=repetition_suppression_cases(pattern=patterns(alphabet=st.just(EMPTY))))\n",
        "*",
    ),
    "too_many_shots": (
        "from generators import repetition_suppression_cases\n"
        "@given(case=repetition_suppression_cases(shots=st.just(99)))\n",
        "InvalidArgument: *shots*99*",
    ),
    "empty_class": (
        "from generators import Case\n@given(case=st.just(Case('Say A:', ('', ' A'), 1)))\n",
        "a case asks for empty continuation after the context ending 'Say A:': there is nothing to score",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN_STRATEGIES))
def test_a_behaviour_that_cannot_draw_its_cases_errors_before_any_model_loads(
    suite: pytest.Pytester, name: str
) -> None:
    header, cause = BROKEN_STRATEGIES[name]
    suite.makepyfile(
        **{
            f"behaviours/test_{name}": "from hypothesis import given\nfrom hypothesis import strategies as st\n"
            + header
            + f"def test_{name}(case, lm):\n    assert lm.score(case).right\n"
        }
    )
    outcome = suite.runpytest(f"behaviours/test_{name}.py", "--model-family", "scripted", "--examples", "20")
    outcome.assert_outcomes(errors=2)
    assert outcome.ret == Exit.BROKEN and scripted.LOADED == []
    outcome.stdout.fnmatch_lines(
        [f"{name}: the behaviour cannot be run as written ({cause}); this is bad data or a broken strategy*"]
    )
    rows = results(suite)["results"]
    assert all(row["status"] == "error" and row["error_kind"] == "behaviour" and row["error"] for row in rows)
    assert all(row["n"] == 0 and row["rate"] is None for row in rows)


def test_a_test_body_that_raises_is_the_behaviours_error_not_the_models_failure(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        **{
            "behaviours/test_buggy": "from hypothesis import given\nfrom generators import repetition_suppression_cases\n"
            "@given(case=repetition_suppression_cases())\n"
            "def test_buggy(case, lm):\n    assert lm.score(case).logprobs[0] + 'x'\n"
        }
    )
    outcome = suite.runpytest("behaviours/test_buggy.py", *TWO[1:])
    outcome.assert_outcomes(errors=2)
    assert outcome.ret == Exit.BROKEN
    outcome.stdout.fnmatch_lines(
        [
            "*ERROR at call of test_buggy*",
            "buggy on completes: the behaviour cannot be run as written (the behaviour raised on case=*: TypeError: "
            "unsupported operand type(s) for +: 'float' and 'str' at behaviours/test_buggy.py:5); this is bad data *",
        ]
    )
    rows = results(suite)["results"]
    assert {row["error_kind"] for row in rows} == {"behaviour"} and rows[0]["error"].startswith("buggy on completes: ")


def test_an_interrupted_run_keeps_the_finished_model_says_it_did_not_finish_and_saves_no_baseline(
    suite: pytest.Pytester,
) -> None:
    suite.makepyprojecttoml(
        "[tool.scalecheck.families.stopped]\nsizes = [\n"
        '  {label = "obeys", python = "tests.scripted:obeys", params = 1},\n'
        '  {label = "ctrl-c", python = "tests.scripted:interrupted", params = 2},\n]\n'
    )
    outcome = suite.runpytest(
        "behaviours/", "--model-family", "stopped", "--examples", "20", "--save-baseline", "partial",
        no_reraise_ctrlc=True,
    )  # fmt: skip
    assert outcome.ret == Exit.BROKEN
    outcome.stdout.fnmatch_lines(["*baseline not saved: the run was interrupted, and a baseline must be whole"])
    assert not (suite.path / "baselines" / "partial").exists()
    document = results(suite)
    assert document["run"]["finished"] is None and document["run"]["stop_reason"] == "interrupted"
    by_model = {row["model"]: row for row in document["results"]}
    assert by_model["obeys"]["status"] == "passed" and by_model["obeys"]["n"] == 20
    assert by_model["ctrl-c"]["status"] == "not run"
    assert set(examples(suite)["model"]) == {"obeys"}
    assert "| not run" in (suite.path / "scalecheck-report" / "table.md").read_text()


def test_a_completed_run_says_so(suite: pytest.Pytester) -> None:
    suite.runpytest("behaviours/", "--model-family", "scripted", "--model-sizes", "obeys", "--examples", "5")
    run = results(suite)["run"]
    assert run["stop_reason"] == "completed" and run["finished"]


def test_pipes_in_labels_and_file_names_keep_every_markdown_table_whole(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makepyprojecttoml(
        "[tool.scalecheck.families.piped]\nsizes = [\n"
        '  {label = "a|b", python = "tests.scripted:obeys", params = 1},\n'
        '  {label = "c\\\\|d", python = "tests.scripted:completes_pattern", params = 2},\n]\n'
    )
    data = suite.path / "data"
    data.mkdir()
    (data / "x|y.csv").write_text("prompt,classes,answer_index\n\"A, B, A, B, A,\",\"[' A', ' B']\",0\n")
    suite.makepyfile(
        **{
            "behaviours/test_piped": 'from generators import prize_csv_behaviour\n\ntest_piped = prize_csv_behaviour("data/x|y.csv", metric="classification")\n'
        }
    )
    summary = suite.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    suite.runpytest("behaviours/", "--model-family", "piped", "--examples", "20", "--breakdown", "source")
    report = suite.path / "scalecheck-report"
    for text in ((report / "table.md").read_text(), (report / "report.md").read_text(), summary.read_text()):
        rows = markdown_table_rows(text)
        assert rows[0][1:3] == [r"a\|b", r"c\\\|d"] and {len(row) for row in rows} == {4}
    breakdown = (report / "report.md").read_text().split("### piped by source")[1]
    assert markdown_table_rows(breakdown)[2][0] == r"x\|y.csv"


def test_hostile_text_stays_well_formed_in_every_file(suite: pytest.Pytester) -> None:
    prompts = ['He said "stop, now".\nThen: |x|', "<b>bold</b> ```code``` \\ $x$ tab\there", "ünïcödé — 漢字 ,;"]
    rows = [{"prompt": prompt, "classes": repr([' "yes"', " no,|"]), "answer_index": 0} for prompt in prompts]
    (suite.path / "hostile.csv").write_text(pd.DataFrame(rows).to_csv(index=False), encoding="utf-8")
    suite.makepyfile(
        **{
            "behaviours/test_hostile": 'from generators import prize_csv_behaviour\n\ntest_hostile = prize_csv_behaviour("hostile.csv", metric="classification")\n'
        }
    )
    suite.makepyprojecttoml(
        '[tool.scalecheck.families.copying]\nsizes = [{label = "literal", python = "tests.scripted:literal"}]\n'
    )
    suite.runpytest("behaviours/test_hostile.py", "--model-family", "copying", "--examples", "20")
    frame = examples(suite)
    assert set(frame["prompt"]) == set(prompts)
    assert {tuple(json.loads(classes)) for classes in frame["classes"]} == {(' "yes"', " no,|")}
    assert results(suite)["results"][0]["n"] == 3
    rows = markdown_table_rows((suite.path / "scalecheck-report" / "report.md").read_text())
    assert {len(row) for row in rows} == {3}


def test_a_test_suite_run_without_behaviours_creates_no_report_folder(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_plain="def test_plain():\n    assert True\n")
    suite.runpytest("test_plain.py", "--model-family", "scripted").assert_outcomes(passed=1)
    assert not (suite.path / "scalecheck-report").exists()


def test_merging_into_a_folder_another_run_holds_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from reports.__main__ import main
    from reports.results import SUMMARY_COLUMNS, ReportData

    for run in ("run-a", "run-b"):
        empty = ReportData(run={}, models=[], summary=pd.DataFrame(columns=SUMMARY_COLUMNS), examples=pd.DataFrame())
        empty.write(tmp_path / run)
    held = hold_folder(tmp_path / "merged", "--out")
    try:
        code = main(["merge", str(tmp_path / "run-a"), str(tmp_path / "run-b"), "--out", str(tmp_path / "merged")])
    finally:
        held.release()
    assert code == Exit.BROKEN
    assert f"--out {tmp_path}/merged is in use by another scalecheck run (pid " in capsys.readouterr().err
    assert [path.name for path in (tmp_path / "merged").iterdir()] == [".scalecheck.lock"]


def test_merging_a_folder_without_results_names_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from reports.__main__ import main

    (tmp_path / "empty").mkdir()
    assert main(["merge", str(tmp_path / "empty"), str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 2
    assert "empty: no results.json (is it a scalecheck report folder?)" in capsys.readouterr().err
