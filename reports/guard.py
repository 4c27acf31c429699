"""Faults, told apart from results and found as early as they can be known; the exit code that says which.

- Before the first model loads, every selected behaviour draws its cases once with no model behind ``lm``: a
  strategy that cannot draw, or a case with nothing to score, errors that behaviour's items at setup, so no model
  is loaded for them and no rate is made up.
- An item *errors* (pytest's error, never a failed rate) when its model could not be loaded or failed while
  scoring (``error_kind`` ``model``) or when the behaviour raised something other than a failed assertion
  (``behaviour``); the kind is a user property of the report, so ``results.json`` and the JUnit XML carry it.
- The session's exit code follows ``reports.exitcodes``.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from models.fixtures import ModelFailed, notifier
from models.under_test import ModelUnderTest, Request, ScoringFailed, first_line, request_problem
from reports.exitcodes import ERROR_KIND, MEANING, Exit, exit_code
from runner.counting import BehaviourError, is_counted_test, record_requests
from runner.workers import WORKER

if TYPE_CHECKING:
    from reports.plugin import ScalecheckReport


class BehaviourBroken(pytest.fail.Exception):
    """A behaviour that cannot be run as written (bad data, a broken strategy or test body): the item errors."""


class _NoModel:
    """The backend behind ``lm`` while cases are drawn before any model loads: it is never asked to score."""

    label = "no model yet"

    def loglikelihoods(self, requests: Sequence[Request], *, progress: Any = None) -> list[float]:
        raise RuntimeError("no model is loaded while cases are drawn")

    def close(self) -> None:
        pass


def _origin(error: BaseException, root: Path) -> str:
    """`` at file:line`` of the innermost frame in the project outside scalecheck's own machinery, if any."""
    machinery = (root / "reports", root / "models", root / "runner")
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename)
        if path.is_relative_to(root) and not any(path.is_relative_to(room) for room in machinery):
            return f" at {path.relative_to(root)}:{frame.lineno}"
    return ""


def broken(name: str, error: BaseException | str, root: Path) -> str:
    """The one line of a behaviour that cannot be run: what it raised (and where), and that the model is not
    to blame. A ``BehaviourError`` already names the case; where it came from is its cause's traceback."""
    if isinstance(error, BehaviourError):
        cause = str(error) + _origin(error.__cause__ or error, root)
    elif isinstance(error, BaseException):
        cause = first_line(error) + _origin(error, root)
    else:
        cause = error
    return (
        f"{name}: the behaviour cannot be run as written ({cause}); this is bad data or a broken strategy or test, "
        "not the model's answer"
    )


class Guard:
    """The fault-finding hooks of one session, reading and marking the report's results."""

    def __init__(self, config: pytest.Config, report: ScalecheckReport) -> None:
        self.config = config
        self.report = report
        self.root = Path(config.rootpath)
        self.problems: dict[Any, str] | None = None
        """Per behaviour function, why its cases cannot be asked (None until checked, before the first model)."""
        self.exit: int | None = None

    def _counted(self, items: Sequence[pytest.Item]) -> Iterator[pytest.Function]:
        for item in items:
            if item.nodeid in self.report.results and is_counted_test(getattr(item, "obj", None)):
                yield item  # type: ignore[misc]

    def _check(self, items: Sequence[pytest.Item]) -> dict[Any, str]:
        """Draw each behaviour's examples (the report keeps them for every model) and note the requests they make
        with no model behind ``lm``: the problems found, by behaviour function."""
        firsts: dict[Any, pytest.Function] = {}
        for item in self._counted(items):
            if set(inspect.signature(item.obj).parameters) == {"lm"}:  # other fixtures are not set up yet
                firsts.setdefault(item.obj, item)
        if firsts:
            count = f"{len(firsts)} behaviour" + ("s" if len(firsts) > 1 else "")
            notifier(self.config)(f"drawing the cases of {count} before loading any model ...")
        problems = {}
        for test, item in firsts.items():
            result = self.report.results[item.nodeid]
            model = ModelUnderTest(backend=_NoModel(), label=_NoModel.label)
            try:
                examples = self.report.examples_of(test, result.examples)
            except Exception as error:
                problems[test] = broken(result.behaviour, error, self.root)
                continue
            requests = record_requests(test.hypothesis.inner_test, {"lm": model}, model, examples)
            problem = next(filter(None, map(request_problem, requests)), None)
            if problem is not None:
                problems[test] = broken(result.behaviour, f"a case asks for {problem}", self.root)
        return problems

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.nodeid not in self.report.results or not is_counted_test(getattr(item, "obj", None)):
            return
        if self.problems is None:
            self.problems = self._check(item.session.items)
        problem = self.problems.get(getattr(item, "obj", None))
        if problem is not None:
            raise BehaviourBroken(problem, pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Iterator[None]:
        """What escapes the counting, other than pytest's own outcomes, is the behaviour's error, in one line."""
        try:
            return (yield)
        except ScoringFailed as error:
            failure: pytest.fail.Exception = ModelFailed(str(error), pytrace=False)
        except Exception as error:
            result = self.report.results.get(pyfuncitem.nodeid)
            if result is None:
                raise
            failure = BehaviourBroken(broken(f"{result.behaviour} on {result.model}", error, self.root), pytrace=False)
        raise failure

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        report = yield
        if report.failed and item.nodeid in self.report.results and call.excinfo is not None:
            if call.excinfo.errisinstance(ModelFailed):
                report.user_properties.append((ERROR_KIND, "model"))
            elif call.when != "call" or call.excinfo.errisinstance(BehaviourBroken):
                report.user_properties.append((ERROR_KIND, "behaviour"))
            if call.excinfo.errisinstance((ModelFailed, BehaviourBroken)):
                report.longrepr = call.excinfo.value.msg  # the one line, without the exception's class path
        return report

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        """A behaviour that errored while counting is an error, as pytest calls a setup failure, not a failure."""
        if report.when == "call" and report.failed and dict(report.user_properties).get(ERROR_KIND):
            return "error", "E", "ERROR"
        return None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.report.results or self.report.role == WORKER:
            return  # no behaviour ran (the project's own tests), or the controller decides: pytest's code stands
        errors = [result.error_kind for result in self.report.results.values() if result.status == "error"]
        status = session.exitstatus
        if status == pytest.ExitCode.INTERRUPTED and session.shouldfail:  # -x under pytest-xdist: a stop, not ^C
            status = pytest.ExitCode.TESTS_FAILED
        self.exit = exit_code(status, errors=errors, report_written=self.report.write_failure is None)
        session.exitstatus = self.exit

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.exit in (Exit.BROKEN, Exit.MODEL_FAILED, Exit.REPORT_NOT_WRITTEN):
            terminalreporter.write_line(f"scalecheck exit code {self.exit}: {MEANING[Exit(self.exit)]}")
