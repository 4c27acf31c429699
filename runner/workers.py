"""One model size per pytest-xdist worker, and one report, written by the controller alone.

``pytest behaviours/ -n N`` runs the serial path in every process, with three differences:

- the controller collects too (collection loads no model), so it knows every behaviour x model item, holds the
  report folder and writes every file, exactly as a serial run does; workers hold and write nothing;
- ``ModelScheduling`` (``runner/model_scheduling.py``) gives every item of one size to one worker, so each size
  loads once in the whole session, and a worker's ``lm`` fixture still holds one model at a time;
- a worker attaches each finished item's state (its ``BehaviourResult``, its behaviour's audit, the model's load
  facts) to the item's teardown report, which xdist carries to the controller; the controller adopts it in place
  of its own not-yet-run row, so the table, ``results.json`` and ``examples.csv`` are built by the serial code.

Where there are GPUs, each worker gets its own share of the visible ones (``CUDA_VISIBLE_DEVICES``, a subset of
an outer setting), set before torch first looks at CUDA. The hooks are xdist's, so each is ``optionalhook``: the
plugin is harmless where pytest-xdist is not installed.
"""

from __future__ import annotations

import base64
import copyreg
import io
import os
import pickle
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pytest

from models.device import share_gpus, visible_gpus
from models.fixtures import SESSION_MODELS
from reports.exitcodes import ERROR_KIND
from reports.results import BehaviourResult
from runner.audit import BehaviourAudit

SERIAL, CONTROLLER, WORKER = "serial", "controller", "worker"
GPUS = "scalecheck_cuda_visible_devices"
"""The key of a worker's GPU share in xdist's ``workerinput``."""
PAYLOAD = "scalecheck_item"
"""The attribute of a teardown report that carries the item's state; pytest serializes a report's attributes."""
INTERRUPTED = "scalecheck_interrupted"
"""The attribute set on the report of an item a worker was interrupted in (``pytest_handlecrashitem``)."""
SCHEDULED_DIST = "load"
"""The ``--dist`` mode ``-n`` implies, which scalecheck replaces with its own scheduling by model size."""
_FREE_SHARES = pytest.StashKey[list[list[str]]]()
"""GPU shares no live worker holds: a worker takes one when it starts and gives it back when it goes down, so a
worker that replaces a crashed one gets the crashed one's GPUs, never a live worker's."""
_HELD_SHARES = pytest.StashKey[dict[str, list[str]]]()


def role(config: pytest.Config) -> str:
    """``worker`` inside an xdist worker, ``controller`` in the process that distributes, else ``serial``."""
    if hasattr(config, "workerinput"):
        return WORKER
    if getattr(config.option, "dist", "no") != "no" and not config.option.collectonly:
        return CONTROLLER
    return SERIAL


def worker_count(config: pytest.Config) -> int:
    """The workers xdist starts: ``-n N`` and ``--tx 2*popen`` alike, counted as xdist expands them."""
    count = 0
    for spec in config.getoption("tx", default=None) or []:
        times, star, _ = str(spec).partition("*")
        count += int(times) if star and times.isdigit() else 1
    return count


@dataclass
class ItemState:
    """What a worker knows of one finished behaviour x model item that the controller's report needs."""

    result: BehaviourResult
    audit: BehaviourAudit | None
    load: dict[str, Any] | None
    worker: str

    def pack(self) -> str:
        """A string, as every report attribute must serialize: the controller and its workers run the same code,
        from the same checkout, so a pickle is read back by the code that wrote it."""
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _read_only_mapping}
        pickler.dump(self)
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    @staticmethod
    def unpack(text: str) -> ItemState:
        """Only scalecheck's own classes and plain data are rebuilt: a report attribute may come from a remote
        worker (``--tx ssh=...``), and an arbitrary pickle can run code."""
        state = _KnownClasses(io.BytesIO(base64.b64decode(text))).load()
        if not isinstance(state, ItemState):
            raise pickle.UnpicklingError(f"a worker sent {type(state).__name__}, not an item's state")
        return state


_OWN_MODULES = ("generators", "models", "reports", "runner")
_PLAIN = {
    "builtins": {"set", "frozenset", "dict", "list", "tuple", "complex", "float", "int", "str", "bytes", "bool"},
    "collections": {"OrderedDict", "defaultdict", "Counter"},
    "datetime": {"datetime", "date", "timedelta", "timezone"},
    "copyreg": {"_reconstructor"},
}


class _KnownClasses(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] in _OWN_MODULES or name in _PLAIN.get(module, ()):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"an item's state may not hold {module}.{name}")


def _read_only(mapping: dict) -> MappingProxyType:
    return MappingProxyType(mapping)


def _read_only_mapping(proxy: MappingProxyType) -> tuple[Any, tuple[dict]]:
    """A case's read-only axes travel as a plain dict, made read-only again on arrival."""
    return _read_only, (dict(proxy),)


def check_dist(config: pytest.Config) -> None:
    """Other ``--dist`` modes would split one size's items over several workers (each loading the model), or run
    every item in every worker (``each``): refused once behaviours are selected, before any model loads."""
    dist = config.getoption("dist")
    if role(config) == CONTROLLER and dist != SCHEDULED_DIST:
        raise pytest.UsageError(
            f"--dist {dist}: scalecheck puts each model size on one worker itself; drop --dist and give -n N alone"
        )


def share_cpus(workers: int) -> int:
    """Workers scoring on the CPU split its cores: each of N workers takes 1/N of them for torch's threads. Left
    at torch's default every worker would start a team as large as the machine, and teams that outnumber the
    cores wait on each other's preempted threads. Returns the threads set."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // max(1, workers))
    torch.set_num_threads(threads)
    return threads


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A worker sees only its own GPUs, set before torch first looks at CUDA; a controller refuses what cannot
    work with workers."""
    if role(config) == WORKER:
        share = config.workerinput.get(GPUS)  # type: ignore[attr-defined]
        if share is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = share
        else:
            share_cpus(int(config.workerinput.get("workercount", 1)))  # type: ignore[attr-defined]
    elif role(config) == CONTROLLER and config.getoption("sequential", default=False):
        raise pytest.UsageError(
            f"--sequential with -n {worker_count(config)}: a size's stopping pairs it with the sizes run before it "
            "in the same process; run --sequential without -n, or one job per size (--model-sizes X --report-dir "
            "run-X) and python -m reports merge"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Share the visible GPUs among the workers before xdist starts them (the device is resolved by now)."""
    config = session.config
    if role(config) != CONTROLLER:
        return
    device = config.stash[SESSION_MODELS].options.device
    if not device.startswith("cuda"):
        return
    if device != "cuda":
        raise pytest.UsageError(
            f"--device {device} with -n: each worker is given GPUs of its own, numbered from 0 inside it; use "
            "--device cuda (or auto)"
        )
    try:
        config.stash[_FREE_SHARES] = share_gpus(visible_gpus(), worker_count(config))
        config.stash[_HELD_SHARES] = {}
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    free = node.config.stash.get(_FREE_SHARES, None)
    if free:
        share = free.pop(0)
        node.config.stash[_HELD_SHARES][node.workerinput["workerid"]] = share
        node.workerinput[GPUS] = ",".join(share)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """A worker that finished or crashed gives its GPUs back for a replacement."""
    held = node.config.stash.get(_HELD_SHARES, None)
    share = None if held is None else held.pop(node.workerinput["workerid"], None)
    if share is not None:
        node.config.stash[_FREE_SHARES].append(share)


def _interrupted(report: pytest.TestReport) -> bool:
    """Whether the worker that xdist says crashed in the item was interrupted instead: by xdist's own rule
    (``DSession.worker_workerfinished``), a worker that ended with pytest's exit status 2 received a keyboard
    interrupt (Ctrl-C; or ``pytest.exit`` in it). A worker that died sent no exit status."""
    output = getattr(getattr(report, "node", None), "workeroutput", None) or {}
    return output.get("exitstatus") == pytest.ExitCode.INTERRUPTED


@pytest.hookimpl(optionalhook=True)
def pytest_handlecrashitem(crashitem: str, report: pytest.TestReport, sched: Any) -> None:
    """A worker that died in an item (killed for memory, a crash in a kernel) is a model failure, as a load or
    scoring failure is (exit 6), not a broken behaviour. A worker interrupted in an item (Ctrl-C) did not die,
    though xdist calls the item a crash too (and then stops the run): the item did not finish, as in a serial run
    interrupted there, so it is no failure (which would also count as the stop of ``-x``), but skipped, saying why."""
    if _interrupted(report):
        worker = report.node.workerinput["workerid"]  # type: ignore[attr-defined]
        report.outcome = "skipped"
        report.longrepr = (report.location[0], None, f"interrupted (Ctrl-C) on worker {worker} before it finished")
        setattr(report, INTERRUPTED, True)
        return
    report.user_properties = [*report.user_properties, (ERROR_KIND, "model")]


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """An item interrupted in a worker is counted as interrupted, not as a skip the test asked for."""
    if getattr(report, INTERRUPTED, False):
        return "interrupted", "!", "INTERRUPTED"
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one worker per visible GPU; without GPUs, xdist's own choice (one per CPU)."""
    if config.getoption("device", default="auto") == "cpu":
        return None
    return len(visible_gpus()) or None


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """xdist's controller skips collection; scalecheck's collects (no model loads then), so its report knows every
    item, and refuses a bad folder or ``--dist`` before any worker is given work. xdist's hook then runs as ever."""
    if role(session.config) == CONTROLLER:
        session.perform_collect()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != SCHEDULED_DIST:
        return None
    from runner.model_scheduling import ModelScheduling

    report = config.pluginmanager.get_plugin("scalecheck-report")
    models = {} if report is None else {nodeid: result.model for nodeid, result in report.results.items()}
    return ModelScheduling(config, log, models=models)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """A collection error stops the run before any worker is given work, as it stops a serial run before any model
    loads (pytest's own check comes after xdist's loop; the workers' copies of the error are then never read)."""
    failed = session.testsfailed
    if role(session.config) == CONTROLLER and failed and not session.config.option.continue_on_collection_errors:
        raise session.Interrupted(f"{failed} error{'s' if failed != 1 else ''} during collection")
