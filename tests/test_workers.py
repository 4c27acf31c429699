"""One model size per pytest-xdist worker (``-n``): the same report as a serial run, each size loaded once, by one
worker, on its own GPUs, and the combinations that cannot work refused in one line before any model loads."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import NoReturn

import pandas as pd
import pytest
import torch

from generators.case import Case
from models.device import share_gpus, visible_gpus
from reports.exitcodes import Exit
from reports.results import BehaviourResult
from runner import workers
from runner.counting import CountedRun, ExampleRecord
from runner.verdicts import Verdict
from tests import scripted
from tests.project import BEHAVIOUR, results

pytest.importorskip("xdist", reason="pytest-xdist is not installed (pip install 'scalecheck[xdist]')")

LOGGED = """
[tool.scalecheck.families.logged]
sizes = [
    {label = "small", python = "tests.scripted:logged", params = 1000},
    {label = "medium", python = "tests.scripted:logged", params = 2000},
    {label = "large", python = "tests.scripted:logged", params = 3000},
]

[tool.scalecheck.families.interrupted]
sizes = [
    {label = "small", python = "tests.scripted:logged", params = 1000},
    {label = "ctrl-c", python = "tests.scripted:interrupted", params = 2000},
]

[tool.scalecheck.families.mortal]
sizes = [
    {label = "small", python = "tests.scripted:logged", params = 1000},
    {label = "dies", python = "tests.scripted:dies", params = 2000},
    {label = "large", python = "tests.scripted:logged", params = 3000},
]
"""


GPU_WORKERS = """

import pytest
import torch


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if hasattr(config, "workerinput"):  # each worker stands in for one on a GPU node: one GPU, with bfloat16
        torch.cuda.is_available = lambda: True
        torch.cuda.device_count = lambda: 1
        torch.cuda.current_device = lambda: 0
        torch.cuda.get_device_capability = lambda device=None: (8, 0)
"""


@pytest.fixture
def log(suite: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the ``logged`` family's loads are noted in (by any process), and that family in the project."""
    monkeypatch.setenv(scripted.LOAD_LOG, str(tmp_path / "loads.txt"))
    suite.makepyprojecttoml(Path(suite.path / "pyproject.toml").read_text() + LOGGED)
    return tmp_path / "loads.txt"


def _second_behaviour(project: pytest.Pytester) -> None:
    """A second behaviour file, so every size has several items that must stay on one worker."""
    text = BEHAVIOUR.read_text().replace("def test_repetition_suppression(", "def test_repetition_again(")
    (project.path / "behaviours" / "test_repetition_again.py").write_text(text)


def _workers_by_model(outcome: pytest.RunResult) -> dict[str, set[str]]:
    """Which workers ran each model's items, read from ``-v`` lines like ``[gw0] PASSED ...[label]``."""
    seen: dict[str, set[str]] = {}
    for worker, model in re.findall(r"\[(gw\d+)\] .*?(?:PASSED|FAILED|ERROR) \S+\[([^\]]+)\]", outcome.stdout.str()):
        seen.setdefault(model, set()).add(worker)
    return seen


def _report(folder: Path) -> tuple[dict, pd.DataFrame, str]:
    document = json.loads((folder / "results.json").read_text())
    return document, pd.read_csv(folder / "examples.csv"), (folder / "table.md").read_text()


def test_two_workers_write_the_report_a_serial_run_writes(suite: pytest.Pytester, tmp_path: Path) -> None:
    """Tiny local transformers checkpoints, two workers: rows, examples, audit and table as the serial run's."""
    from tests.tiny_models import build_tiny_model

    _second_behaviour(suite)
    paths = [
        str(build_tiny_model(kind, tmp_path / kind, seed=seed)) for seed, kind in enumerate(("opt", "gpt2", "llama"))
    ]
    common = [arg for path in paths for arg in ("--model-path", path)]
    common += ["behaviours/", "--examples", "12", "--required-rate", "0", "--no-score-cache"]
    serial = suite.runpytest(*common, "--report-dir", "serial")
    parallel = suite.runpytest(*common, "--report-dir", "parallel", "-n", "2", "-v")
    assert serial.ret == parallel.ret == Exit.OK
    (one, one_examples, one_table), (two, two_examples, two_table) = (
        _report(suite.path / "serial"),
        _report(suite.path / "parallel"),
    )

    def rows(document: dict) -> list[dict]:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in document["results"]]

    assert len(rows(one)) == 6 and rows(one) == rows(two)
    assert one["verdicts"] == two["verdicts"] and one["audit"] == two["audit"]
    pd.testing.assert_frame_equal(one_examples, two_examples)
    assert one_table == two_table
    assert one["run"]["workers"] is None and two["run"]["workers"] == 2
    assert [model["worker"] for model in one["models"]] == [None, None, None]
    assert all(re.fullmatch(r"gw[01]", model["worker"]) for model in two["models"])
    assert [model["params"] for model in one["models"]] == [model["params"] for model in two["models"]]
    assert {model: len(ran) for model, ran in _workers_by_model(parallel).items()} == {"opt": 1, "gpt2": 1, "llama": 1}


def test_each_size_loads_once_in_the_whole_session(suite: pytest.Pytester, log: Path) -> None:
    _second_behaviour(suite)
    outcome = suite.runpytest("behaviours/", "--model-family", "logged", "--examples", "10", "-n", "2", "-v")
    assert outcome.ret == Exit.OK
    loads = [line.split() for line in log.read_text().splitlines()]
    assert sorted(label for _, label in loads) == ["large", "medium", "small"]
    assert len({pid for pid, _ in loads}) == 2  # two workers, each loading the sizes it was given, once
    assert all(len(ran) == 1 for ran in _workers_by_model(outcome).values())
    assert len(json.loads((suite.path / "scalecheck-report" / "results.json").read_text())["results"]) == 6


def test_workers_progress_lines_reach_the_users_terminal(
    suite: pytest.Pytester, log: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A worker's own terminal output is discarded by xdist: a long load must still show it is alive."""
    outcome = suite.runpytest("behaviours/", "--model-family", "logged", "--examples", "10", "-n", "2")
    assert outcome.ret == Exit.OK
    lines = capfd.readouterr().err.splitlines()
    for label in ("small", "medium", "large"):
        assert any(re.match(rf"\[scalecheck gw[01]\] loading {label} ", line) for line in lines), lines


def test_a_worker_that_dies_in_an_item_reports_it_once_as_a_model_failure(suite: pytest.Pytester, log: Path) -> None:
    """xdist's own loadscope would hand the item that killed its worker to every replacement worker, reloading the
    model each time; here each such item is one error of the model (exit 6) and the other sizes are unaffected."""
    _second_behaviour(suite)
    outcome = suite.runpytest("behaviours/", "--model-family", "mortal", "--examples", "10", "-n", "2")
    assert outcome.ret == Exit.MODEL_FAILED
    document = json.loads((suite.path / "scalecheck-report" / "results.json").read_text())
    by_model: dict[str, list[tuple[str, str | None]]] = {}
    for row in document["results"]:
        by_model.setdefault(row["model"], []).append((row["status"], row["error_kind"]))
    assert by_model["dies"] == [("error", "model"), ("error", "model")]
    assert {status for model in ("small", "large") for status, _ in by_model[model]} == {"passed"}
    loads = [label for _, label in (line.split() for line in log.read_text().splitlines())]
    assert loads.count("dies") == 2 and loads.count("small") == loads.count("large") == 1


@pytest.mark.parametrize("arguments", [(), ("-x",)], ids=["plain", "exitfirst"])
def test_ctrl_c_in_a_worker_is_an_interrupted_run_not_a_model_failure(
    suite: pytest.Pytester, log: Path, arguments: tuple[str, ...]
) -> None:
    """xdist reads a worker's exit status 2 as Ctrl-C: it stops the run and calls the item that worker was in a
    crash. The item was interrupted, not failed by its model: it is not run, as when a serial run is interrupted in
    it, and the run is interrupted (exit 2, with -x too), with no baseline saved."""
    outcome = suite.runpytest(
        "behaviours/", "--model-family", "interrupted", "--examples", "10", "-n", "2", "--save-baseline", "partial",
        *arguments, no_reraise_ctrlc=True,
    )  # fmt: skip
    assert outcome.ret == Exit.BROKEN
    document = results(suite)
    assert document["run"]["stop_reason"] == "interrupted" and document["run"]["finished"] is None
    rows = {row["model"]: row for row in document["results"]}
    assert (rows["ctrl-c"]["status"], rows["ctrl-c"]["error_kind"], rows["ctrl-c"]["error"]) == ("not run", None, None)
    assert rows["small"]["status"] == "passed"
    outcome.stdout.fnmatch_lines(["*baseline not saved: the run was interrupted, and a baseline must be whole"])
    assert not (suite.path / "baselines" / "partial").exists()
    counted = {name: count for name, count in outcome.parseoutcomes().items() if name != "warnings"}
    assert counted == {"passed": 1, "interrupted": 1}


@pytest.fixture
def cuda_refused(two_gpus: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This process believes it has two GPUs, and notes and refuses every call that would initialise CUDA and so
    create a context on a GPU: asking a GPU its capability or the current device, and all that goes through
    ``torch.cuda._lazy_init``."""
    touched: list[str] = []

    def refuse(name: str) -> Callable[..., NoReturn]:
        def refused(*args: object, **kwargs: object) -> NoReturn:
            touched.append(name)
            raise RuntimeError(f"torch.cuda.{name} would initialise CUDA")

        return refused

    for name in ("is_bf16_supported", "get_device_capability", "current_device", "init", "_lazy_init"):
        monkeypatch.setattr(torch.cuda, name, refuse(name))
    return touched


def test_the_controller_of_a_gpu_run_never_initialises_cuda_and_reports_the_dtype_its_workers_used(
    suite: pytest.Pytester, log: Path, cuda_refused: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    """``--dtype auto`` on a GPU asks torch whether the GPU has bfloat16, which creates a CUDA context on the first
    visible GPU: a controller that asked would hold GPU memory on a worker's GPU all run, and loads no model. Here
    the controller (this process) sees two GPUs and may not initialise CUDA; ``-n auto`` starts a worker per GPU,
    each a stand-in for one on a GPU node, which resolves the dtype where it loads; the report says what was used."""
    (suite.path / "conftest.py").write_text((suite.path / "conftest.py").read_text() + GPU_WORKERS)
    outcome = suite.runpytest("behaviours/", "--model-family", "logged", "--examples", "10", "-n", "auto")
    assert cuda_refused == []
    assert outcome.ret == Exit.OK
    run = results(suite)["run"]
    assert (run["device"], run["dtype"], run["workers"]) == ("cuda", "bfloat16", 2)
    loading = [line for line in capfd.readouterr().err.splitlines() if "] loading " in line]
    assert len(loading) == 3 and all(line.endswith(" on cuda as bfloat16 ...") for line in loading), loading


def test_exitfirst_under_workers_stops_as_a_serial_exitfirst_does(suite: pytest.Pytester) -> None:
    """xdist ends a -x run with an interrupt; it is still a run stopped at its first failure, not Ctrl-C."""
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "10", "-n", "2", "-x")
    assert outcome.ret == Exit.BELOW_BAR
    document = json.loads((suite.path / "scalecheck-report" / "results.json").read_text())
    assert document["run"]["stop_reason"] == "stopped early"


def test_a_size_that_fails_to_load_under_workers_is_reported_as_serially(suite: pytest.Pytester) -> None:
    common = ("behaviours/", "--model-family", "half-broken", "--examples", "10")
    serial = suite.runpytest(*common, "--report-dir", "serial")
    parallel = suite.runpytest(*common, "--report-dir", "parallel", "-n", "2")
    assert serial.ret == parallel.ret == Exit.MODEL_FAILED
    one, two = _report(suite.path / "serial")[0], _report(suite.path / "parallel")[0]
    assert [(row["model"], row["status"], row["error_kind"], row["n"]) for row in two["results"]] == [
        (row["model"], row["status"], row["error_kind"], row["n"]) for row in one["results"]
    ]
    broken = next(model for model in two["models"] if model["label"] == "broken")
    assert broken["load_error"] == next(model for model in one["models"] if model["label"] == "broken")["load_error"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--sequential",), "--sequential with -n 2: a size's stopping pairs it with the sizes run before it *"),
        (("--dist", "loadfile"), "--dist loadfile: scalecheck puts each model size on one worker itself; drop *"),
        (("--dist", "each"), "--dist each: scalecheck puts each model size on one worker itself; drop *"),
    ],
)
def test_worker_combinations_that_cannot_work_are_usage_errors_before_any_model_loads(
    suite: pytest.Pytester, log: Path, arguments: tuple[str, ...], message: str
) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "logged", "--examples", "10", "-n", "2", *arguments)
    assert outcome.ret == Exit.USAGE and not log.exists()
    outcome.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in outcome.stdout.str() + outcome.stderr.str()


def test_the_project_s_own_tests_run_under_workers_without_a_report(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_plain="def test_one():\n    assert True\n\ndef test_two():\n    assert True\n")
    outcome = suite.runpytest("test_plain.py", "-n", "2")
    outcome.assert_outcomes(passed=2)
    assert not (suite.path / "scalecheck-report").exists()


def test_gpus_are_shared_out_contiguously_and_never_twice() -> None:
    assert share_gpus(["0", "1", "2", "3", "4", "5", "6", "7"], 8) == [[str(index)] for index in range(8)]
    assert share_gpus(["0", "1", "2", "3"], 2) == [["0", "1"], ["2", "3"]]
    assert share_gpus(["4", "6", "7"], 2) == [["4"], ["6", "7"]]
    with pytest.raises(ValueError, match=r"-n 3 with 2 visible GPU\(s\): each worker needs a GPU of its own; use -n 2"):
        share_gpus(["0", "1"], 3)


def test_an_outer_cuda_visible_devices_is_respected(monkeypatch: pytest.MonkeyPatch, two_gpus: None) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3, 5,GPU-9f2c")
    assert visible_gpus() == ["3", "5", "GPU-9f2c"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []


def test_each_worker_gets_its_own_gpus_and_a_replacement_gets_the_ones_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[workers._FREE_SHARES] = [["0", "1"], ["2", "3"]]
    config.stash[workers._HELD_SHARES] = {}
    nodes = [SimpleNamespace(config=config, workerinput={"workerid": f"gw{index}"}) for index in range(2)]
    for node in nodes:
        workers.pytest_configure_node(node)
    assert [node.workerinput[workers.GPUS] for node in nodes] == ["0,1", "2,3"]
    workers.pytest_testnodedown(nodes[1], error="crashed")  # gw1 crashed: its replacement gets gw1's GPUs
    replacement = SimpleNamespace(config=config, workerinput={"workerid": "gw2"})
    workers.pytest_configure_node(replacement)
    assert replacement.workerinput[workers.GPUS] == "2,3"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    worker = SimpleNamespace(workerinput=nodes[1].workerinput, option=SimpleNamespace())
    workers.pytest_configure(worker)  # type: ignore[arg-type]
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,3"


def test_workers_on_the_cpu_split_its_cores_between_their_thread_teams(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import torch

    threads = torch.get_num_threads()
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(8)), raising=False)
    try:
        worker = SimpleNamespace(workerinput={"workerid": "gw0", "workercount": 3}, option=SimpleNamespace())
        workers.pytest_configure(worker)  # type: ignore[arg-type]
        assert torch.get_num_threads() == 2
        assert workers.share_cpus(16) == 1
    finally:
        torch.set_num_threads(threads)


def test_auto_workers_are_one_per_visible_gpu(monkeypatch: pytest.MonkeyPatch, two_gpus: None) -> None:
    config = SimpleNamespace(getoption=lambda name, default=None: "auto")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    assert workers.pytest_xdist_auto_num_workers(config) == 3  # type: ignore[arg-type]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert workers.pytest_xdist_auto_num_workers(config) is None  # type: ignore[arg-type]


def test_a_cuda_visible_devices_set_where_torch_sees_no_gpu_names_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster's CPU node may carry the variable: -n auto then takes xdist's own count, not one per absent GPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    assert visible_gpus() == []
    config = SimpleNamespace(getoption=lambda name, default=None: "auto")
    assert workers.pytest_xdist_auto_num_workers(config) is None  # type: ignore[arg-type]


def test_an_item_s_state_survives_the_trip_to_the_controller() -> None:
    case = Case(prompt="A, B, A,", classes=(" A", " B"), answer_index=0, axes=MappingProxyType({"template": "t"}))
    record = ExampleRecord(cases=(case,), scored=(), verdict=Verdict("classification", 0.1, True, "ok"), key=case.id)
    run = CountedRun()
    run.add(record)
    result = BehaviourResult(behaviour="b", model="m", nodeid="x::b[m]", required_rate=0.5, run=run, status="passed")
    state = workers.ItemState(result=result, audit=None, load={"load_seconds": 1.0}, worker="gw1")
    back = workers.ItemState.unpack(state.pack())
    assert back.result.summary() == result.summary() and list(back.result.example_rows()) == list(result.example_rows())
    assert isinstance(back.result.run.records[0].cases[0].axes, MappingProxyType) and back.worker == "gw1"


def test_a_report_attribute_that_would_run_code_is_refused() -> None:
    import base64
    import os
    import pickle

    class Exploit:
        def __reduce__(self) -> tuple:
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="may not hold"):
        workers.ItemState.unpack(base64.b64encode(pickle.dumps(Exploit())).decode())
    with pytest.raises(pickle.UnpicklingError, match="not an item's state"):
        workers.ItemState.unpack(base64.b64encode(pickle.dumps({"a": 1})).decode())


def test_a_collection_error_stops_a_worker_run_before_any_model_loads_as_it_stops_a_serial_one(
    suite: pytest.Pytester, log: Path
) -> None:
    (suite.path / "behaviours" / "test_unfinished.py").write_text("def test_unfinished(:\n")
    outcome = suite.runpytest("behaviours/", "--model-family", "logged", "--examples", "10", "-n", "2")
    assert outcome.ret == Exit.BROKEN and not log.exists()
    outcome.stdout.fnmatch_lines(["*Interrupted: 1 error during collection*"])
    assert outcome.stdout.str().count("ERROR behaviours/test_unfinished.py") == 1
