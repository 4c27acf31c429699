"""The scalecheck report plugin: count every example of each behaviour x model, then tabulate pass rate x size.

Results are written to the report folder after every behaviour item (so nothing computed is lost if a later
model fails to load or the run is interrupted) and once more at the end with the run's closing metadata.
"""

from __future__ import annotations

import inspect
import pickle
import platform
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pytest

from models.fixtures import SESSION_MODELS, model_spec_of, notifier
from models.under_test import first_line
from reports import gate
from reports.exitcodes import ERROR_KIND
from reports.files import FolderError, FolderLock, hold_folder
from reports.guard import BehaviourBroken, Guard, broken
from reports.render import write_views
from reports.results import BehaviourResult, ReportData
from reports.stats import PAIR_TEST_WORDS, pair_stopping_alpha
from reports.table import (
    audit_failures,
    audit_table,
    breakdown_table,
    footnotes,
    rate_table,
    render,
    stopping_mode,
)
from runner.audit import BehaviourAudit, audit_cases, prefix_cases, prior_rate
from runner.counting import BehaviourError, CountedRun, ExampleRecord, count_examples, is_counted_test
from runner.sampling import Example, draw_examples
from runner.shrinking import minimal_failure
from runner.stopping import BLOCK, RULE, Outcome, SizeOutcomes, SizeStopping
from runner.workers import CONTROLLER, INTERRUPTED, PAYLOAD, WORKER, ItemState, check_dist, role, worker_count

DEFAULT_EXAMPLES = 200
DEFAULT_CONFIDENCE = 0.95
DEFAULT_REQUIRED_RATE = 0.5
DEFAULT_SEED = 0
REPORT = pytest.StashKey["ScalecheckReport"]()
POPULATION = (
    "Each rate is over distinct cases drawn with seed {seed!r} from the behaviour's @given strategies by a uniform "
    "sampler (runner/sampling.py): every choice a strategy makes (a sampled_from, a bounded integer, a one_of) is "
    "uniform and independent of the others, draws a filter or assume rejects are drawn again, and a question "
    "(prompt, set of classes, right answer) already drawn is drawn again, so each is counted once: a uniform "
    "sample without replacement from the declared case space. Every size answers the same cases; the validity "
    "audit tests each declared axis against uniform, and examples.csv holds every case."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scalecheck report", "scalecheck: counting and reporting")
    group.addoption(
        "--examples",
        type=int,
        default=None,
        help="examples per behaviour and model (with --sequential, a cap: each stops scoring once its verdicts are "
        f"certain; default: the behaviour marker's examples=, else {DEFAULT_EXAMPLES})",
    )
    group.addoption(
        "--confidence",
        type=float,
        default=DEFAULT_CONFIDENCE,
        help=f"with --sequential, confidence of the verdicts that stop scoring early (default {DEFAULT_CONFIDENCE}): "
        "anytime-valid, so looking after every block of cases costs no error",
    )
    group.addoption(
        "--sequential",
        action="store_true",
        help="stop scoring a behaviour x model once its bar, pair and gate verdicts are certain (anytime-valid "
        "betting tests, blocks of 20); trends then use anytime-valid p-values. Default: score every example "
        "(McNemar trends)",
    )
    group.addoption(
        "--required-rate", type=float, default=None, help="pass rate every behaviour must reach (overrides its marker)"
    )
    group.addoption("--report-dir", default="scalecheck-report", help="folder for results.json, examples.csv and views")
    group.addoption(
        "--breakdown",
        action="append",
        default=[],
        help="also tabulate pass rate by this case axis (template, alphabet, repetitions, ...); repeatable",
    )
    group.addoption(
        "--audit",
        action="store_true",
        help="only audit each behaviour's validity (prefix classes, duplicates, answer share, leaks, axis "
        "uniformity, answer prior); models are loaded only to score the prior control",
    )
    gate.add_options(parser)


BEHAVIOUR_MARKER = (
    f"behaviour(required_rate={DEFAULT_REQUIRED_RATE}, examples={DEFAULT_EXAMPLES}): a behaviour test, counted over "
    "all its examples for each model size"
)
"""Registered by the plugin, so any project that loads it knows the marker (``--strict-markers`` included)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", BEHAVIOUR_MARKER)
    examples, required = config.getoption("examples"), config.getoption("required_rate")
    if examples is not None and examples < 1:
        raise pytest.UsageError(f"--examples must be at least 1, got {examples}")
    if required is not None and not 0.0 <= required <= 1.0:
        raise pytest.UsageError(f"--required-rate must be between 0 and 1, got {required}")
    confidence = config.getoption("confidence")
    if not 0.0 < confidence < 1.0:
        raise pytest.UsageError(f"--confidence must be strictly between 0 and 1, got {confidence}: e.g. 0.95")
    report = ScalecheckReport(config)
    config.stash[REPORT] = report
    config.pluginmanager.register(report, "scalecheck-report")
    config.pluginmanager.register(Guard(config, report), "scalecheck-guard")


def _package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("torch", "transformers", "hypothesis", "pytest", "pandas"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _commit(root: Path) -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


class Throttled:
    """A progress report of at most one line per ``seconds`` (and always the final one): visible, never a flood."""

    def __init__(self, seconds: float, report: Callable[[Any, float], None]) -> None:
        self.seconds, self.report = seconds, report
        self.started = self.last = time.perf_counter()

    def __call__(self, value: Any, *, final: bool = False) -> None:
        now = time.perf_counter()
        if final or now - self.last >= self.seconds:
            self.last = now
            self.report(value, now - self.started)


def _behaviour_name(item: pytest.Function) -> str:
    return item.originalname.removeprefix("test_")


def _stop_reason(session: pytest.Session, exitstatus: int, results: Iterable[BehaviourResult]) -> str:
    """Why the run ended, as data: it ran every selected item, or it was interrupted or stopped early. ``-x`` under
    pytest-xdist ends in an interrupt, but it is the same stop as a serial ``-x``; and a run that left an item
    unrun (a worker lost for good, an internal error) did not complete, whatever pytest's code says."""
    if session.shouldstop or session.shouldfail:
        return "stopped early"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or any(
        result.status == "not run" for result in results
    ):
        return "stopped early"
    return "completed"


class ScalecheckReport:
    """Collects one BehaviourResult per behaviour x model and writes the report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.role = role(config)
        """``serial``, or under pytest-xdist ``controller`` (holds the folder, writes) or ``worker`` (scores)."""
        self.results: dict[str, BehaviourResult] = {}
        self.drawn: dict[tuple[Any, int], list[Example]] = {}
        self.audits: dict[str, BehaviourAudit] = {}
        self.audit_only: bool = config.getoption("audit")
        self.final: ReportData | None = None
        self.saved_baseline: Path | None = None
        self.folder: FolderLock | None = None
        """This run's hold on the report folder: nothing is written into a folder the run does not hold."""
        self.write_failure: str | None = None
        self.started = datetime.now(UTC)
        seed = config.getoption("hypothesis_seed", default=None)
        self.seed: Any = DEFAULT_SEED if seed is None else (int(seed) if str(seed).isdigit() else str(seed))
        self.examples: int | None = config.getoption("examples")
        self.sequential: bool = config.getoption("sequential")
        self.confidence: float = config.getoption("confidence")
        here = Path(config.invocation_params.dir)
        self.directory = here / config.getoption("report_dir")
        self.baselines = here / config.getoption("baseline_dir")
        self.gate = gate.RegressionGate.from_config(config, self.baselines)
        gate.check_save(config, self.baselines)

    def _required_rate(self, item: pytest.Function) -> float:
        override = self.config.getoption("required_rate")
        if override is not None:
            return override
        marker = item.get_closest_marker("behaviour")
        rate = marker.kwargs.get("required_rate", DEFAULT_REQUIRED_RATE) if marker else DEFAULT_REQUIRED_RATE
        if not 0.0 <= rate <= 1.0:
            raise pytest.UsageError(f"{item.nodeid}: behaviour(required_rate={rate}) must be between 0 and 1")
        return rate

    def _examples(self, item: pytest.Function) -> int:
        """--examples if given; else the behaviour's own default (costly behaviours declare fewer); else 200."""
        if self.examples is not None:
            return self.examples
        marker = item.get_closest_marker("behaviour")
        examples = marker.kwargs.get("examples", DEFAULT_EXAMPLES) if marker else DEFAULT_EXAMPLES
        if not isinstance(examples, int) or examples < 1:
            raise pytest.UsageError(f"{item.nodeid}: behaviour(examples={examples!r}) must be a positive integer")
        return examples

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """One result per selected behaviour x model, so items that error or never run still show in the table."""
        for item in session.items:
            spec = model_spec_of(item)
            if spec is not None and isinstance(item, pytest.Function):
                self.results[item.nodeid] = BehaviourResult(
                    behaviour=_behaviour_name(item),
                    model=spec.label,
                    nodeid=item.nodeid,
                    required_rate=self._required_rate(item),
                    examples=self._examples(item),
                    status="not run",
                )
        if self.results and not self.config.option.collectonly and self.role != WORKER:
            check_dist(self.config)
            try:
                self.folder = hold_folder(self.directory, "--report-dir")
            except FolderError as error:
                raise pytest.UsageError(str(error)) from None

    def _audit(self, result: BehaviourResult, examples: list[Example], lm: Any) -> BehaviourAudit:
        """The behaviour's model-free checks once, then this model's tokenizer check and prior control."""
        cases = [next(iter(example.cases.values())) for example in examples if example.cases]
        audit = self.audits.get(result.behaviour)
        if audit is None:
            audit = self.audits[result.behaviour] = audit_cases(result.behaviour, cases)
        encode = getattr(lm.backend, "tokenize_request", None)
        audit.prefix_cases[result.model] = prefix_cases(cases, encode) if encode is not None else None
        result.prior_rate = audit.prior_rate[result.model] = prior_rate(cases, lm.loglikelihoods)
        return audit

    def examples_of(self, test: Any, count: int) -> list[Example]:
        """The behaviour's counted examples, drawn once and shared by every model (so every size is asked the
        same questions, in the same order)."""
        key = (test, count)
        if key not in self.drawn:
            self.drawn[key] = draw_examples(test, seed=self.seed, count=count)
        return self.drawn[key]

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        result = self.results.get(pyfuncitem.nodeid)
        if result is None or not is_counted_test(pyfuncitem.obj):
            return None
        test = pyfuncitem.obj
        fixtures = {name: pyfuncitem.funcargs[name] for name in inspect.signature(test).parameters}
        notify = notifier(self.config)
        started = time.perf_counter()
        label = f"{result.model} · {result.behaviour}"
        scored = Throttled(10.0, lambda done, seconds: notify(f"{label}: scored {done} requests ({seconds:.0f} s)"))

        def progress(done: int, total: int) -> None:
            scored(f"{done}/{total}", final=done == total)

        examples = self.examples_of(test, result.examples)
        if self.audit_only:
            audit = self._audit(result, examples, fixtures["lm"])
            result.seconds = time.perf_counter() - started
            failures = [line for line in audit.failures() if "tokenizer" not in line or result.model in line]
            if failures:
                pytest.fail("\n".join(failures), pytrace=False)
            return True
        stopping = None
        try:
            if self.sequential and examples:
                stopping = self._count_sequentially(result, test, fixtures, examples, notify)
            else:
                result.run = count_examples(test, fixtures, fixtures["lm"], examples=examples, progress=progress)
            self._audit(result, examples, fixtures["lm"])
        except BehaviourError as error:
            message = broken(f"{result.behaviour} on {result.model}", error, Path(self.config.rootpath))
            raise BehaviourBroken(message, pytrace=False) from None
        result.seconds = time.perf_counter() - started
        failure = None if result.meets_bar() else self._below_required(result, stopping)
        if failure is not None or self.config.getoption("save_baseline"):
            self._shrink(result, test, fixtures, notify)
        if self.gate is not None:
            decision = None if stopping is None else stopping.gate_decision
            failure = self.gate.judge(result, test, fixtures, fixtures["lm"], sequential=decision)
        elif failure is not None:
            failure = self._with_minimal_example(failure, result)
        pyfuncitem.user_properties.extend(
            (key, value)
            for key, value in result.summary().items()
            if key in ("n", "passed", "rate", "required_rate", "stopped", "baseline_verdict", "pinned")
            and value is not None
        )
        result.seconds = time.perf_counter() - started
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        return True

    def _count_sequentially(
        self, result: BehaviourResult, test: Any, fixtures: dict[str, Any], stream: list[Example], notify: Any
    ) -> SizeStopping:
        """Score the shared stream block by block until every verdict this size owes is certain, or to its end
        (``runner.stopping``); the records are the stream's prefix, in order."""
        stopping = SizeStopping(
            bar=result.required_rate,
            confidence=self.confidence,
            cap=len(stream),
            earlier=self._sizes_run(result.behaviour),
            pair_alpha=pair_stopping_alpha(
                sizes=sum(other.behaviour == result.behaviour for other in self.results.values()),
                behaviours=len({other.behaviour for other in self.results.values()}),
            ),
            baseline=self._baseline_outcomes(result),
            gate_alpha=self.gate.alpha if self.gate is not None else 0.05,
            gate_tolerance=self.gate.tolerance if self.gate is not None else 0.0,
        )
        label = f"{result.model} · {result.behaviour}"
        shown = Throttled(
            10.0, lambda final, seconds: notify(f"{label}: {stopping.describe(final=final)} ({seconds:.0f} s)")
        )
        result.run = CountedRun()
        for start in range(0, len(stream), BLOCK):
            counted = count_examples(test, fixtures, fixtures["lm"], examples=stream[start : start + BLOCK])
            for record in counted.records:
                result.run.add(record)
            stopping.feed([_outcome(record) for record in counted.records], through=min(start + BLOCK, len(stream)))
            last = stopping.done or start + BLOCK >= len(stream)
            shown(last, final=last)
            if last:
                break
        result.stopping = stopping.record()
        return stopping

    def _sizes_run(self, behaviour: str) -> list[SizeOutcomes]:
        """The sizes that already ran this behaviour in this session (smaller first), for this size's pairs."""
        return [
            SizeOutcomes(
                other.model,
                {key: passed for key, passed in map(_outcome, other.run.records) if passed is not None},
                other.stopping["through"],
            )
            for other in self.results.values()
            if other.behaviour == behaviour and other.stopping is not None
        ]

    def _baseline_outcomes(self, result: BehaviourResult) -> dict[str, bool] | None:
        if self.gate is None:
            return None
        return {str(key): bool(passed) for key, passed in self.gate.outcomes_before(result).items()} or None

    def _shrink(self, result: BehaviourResult, test: Any, fixtures: dict[str, Any], notify: Any) -> None:
        if result.run.passed == result.n:
            return
        label = f"{result.model} · {result.behaviour}"
        notify(f"{label}: rate {result.run.passed}/{result.n}; shrinking a failing example")
        tried = Throttled(
            10.0, lambda count, seconds: notify(f"{label}: shrinking, {count} examples tried ({seconds:.0f} s)")
        )
        found = minimal_failure(test, fixtures, seed=self.seed, examples=result.examples, progress=tried)
        if found is not None:
            result.minimal_failing_example, result.minimal_cases = found.report, found.cases

    @staticmethod
    def _below_required(result: BehaviourResult, stopping: SizeStopping | None) -> str:
        if result.n == 0:
            return f"{result.behaviour} on {result.model}: no example was evaluated (every draw was rejected)"
        message = (
            f"{result.behaviour} on {result.model}: pass rate {result.rate:.3f} ({result.run.passed}/{result.n}) "
            f"is below the required {result.required_rate:.2f}"
        )
        if stopping is None:
            return message
        decision = stopping.bar.decision
        judged = "" if decision.verdict != "undecided" else "; judged by its point estimate, as a fixed run is"
        return f"{message}\nsequential bar: {decision.describe()} at {stopping.confidence:g} confidence{judged}"

    @staticmethod
    def _with_minimal_example(message: str, result: BehaviourResult) -> str:
        if result.minimal_failing_example:
            return f"{message}\nMinimal failing example (shrunk by Hypothesis for this model):\n{result.minimal_failing_example}"
        return f"{message}\nHypothesis' own search found no failing example to shrink (see examples.csv)"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
        """A worker sends each finished item's state to the controller on the item's last report."""
        report = yield
        result = self.results.get(item.nodeid)
        if self.role == WORKER and call.when == "teardown" and result is not None:
            state = ItemState(
                result=result,
                audit=self.audits.get(result.behaviour),
                load=self.config.stash[SESSION_MODELS].loads.get(result.model),
                worker=self.config.workerinput["workerid"],  # type: ignore[attr-defined]
            )
            setattr(report, PAYLOAD, state.pack())
        return report

    def _adopt(self, state: ItemState) -> None:
        """A worker's finished item replaces the controller's not-yet-run row (which keeps its place: the serial
        order); its model's audit figures and load facts join the controller's, in the family's order."""
        result = state.result
        self.results[result.nodeid] = result
        models = self.config.stash[SESSION_MODELS]
        if state.load is not None:
            models.loads[result.model] = {**state.load, "worker": state.worker}
        if state.audit is None:
            return
        audit = self.audits.setdefault(result.behaviour, state.audit)
        order = [spec.label for spec in models.family.sizes]
        for name in ("prefix_cases", "prior_rate"):
            figures, theirs = getattr(audit, name), getattr(state.audit, name)
            if result.model in theirs:
                figures[result.model] = theirs[result.model]
            setattr(audit, name, {model: figures[model] for model in order if model in figures})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        packed = getattr(report, PAYLOAD, None)
        if self.role == CONTROLLER and packed is not None:
            try:
                self._adopt(ItemState.unpack(packed))
            except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, EOFError) as error:
                notifier(self.config)(f"{report.nodeid}: a worker's report could not be read ({error}); not counted")
        result = self.results.get(report.nodeid)
        if result is None or getattr(report, INTERRUPTED, False):
            return  # an item a worker was interrupted in stays not run, as a serial run's interrupted item does
        kind = dict(report.user_properties).get(ERROR_KIND)
        if report.failed and (report.when != "call" or kind is not None):
            crash = getattr(report.longrepr, "reprcrash", None)
            result.status, result.error_kind = "error", kind
            result.error = crash.message if crash is not None else report.longreprtext.strip().splitlines()[-1]
        elif report.when == "call" or report.skipped:
            result.status = "passed" if report.passed else ("skipped" if report.skipped else "failed")
        if report.when == "teardown":
            self.write()

    def _run_metadata(self, stop_reason: str | None) -> dict[str, Any]:
        models = self.config.stash[SESSION_MODELS]
        return {
            "started": self.started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds") if stop_reason == "completed" else None,
            "stop_reason": stop_reason,
            "command": ["pytest", *self.config.invocation_params.args],
            "family": models.family.name,
            "scale": models.family.scale,
            "device": models.options.device,
            "cpu": models.cpu,
            "scoring": {label: facts.get("scoring") for label, facts in models.loads.items()},
            "dtype": models.dtype(),
            "backend": models.options.backend,
            "seed": self.seed,
            "examples_per_behaviour": self.examples or "per behaviour (see results)",
            "workers": worker_count(self.config) if self.role == CONTROLLER else None,
            "stopping": self._stopping_metadata(),
            "population": POPULATION.format(seed=self.seed),
            "versions": _package_versions(),
            "commit": _commit(Path(self.config.rootpath)),
        }

    def _stopping_metadata(self) -> dict[str, Any]:
        """How every size's n was chosen; the trend rule reads the mode to pick its pairwise test."""
        if not self.sequential:
            return {"mode": "fixed"}
        return {"mode": RULE, "confidence": self.confidence, "block": BLOCK}

    def _model_rows(self) -> list[dict[str, Any]]:
        models = self.config.stash[SESSION_MODELS]
        rows = []
        for spec in models.family.sizes:
            loaded = models.loads.get(spec.label, {})
            rows.append(
                {
                    "label": spec.label,
                    "source": spec.source,
                    "ref": spec.ref,
                    "revision": spec.revision,
                    "tokens": spec.tokens,
                    "params": loaded.get("params", spec.params),
                    "non_embedding_params": loaded.get("non_embedding_params", spec.non_embedding_params),
                    "load_seconds": loaded.get("load_seconds"),
                    "threads": loaded.get("threads"),
                    "load_error": loaded.get("load_error"),
                    "worker": loaded.get("worker"),
                }
            )
        return rows

    def data(self, *, stop_reason: str | None = None) -> ReportData:
        return ReportData.collect(
            run=self._run_metadata(stop_reason),
            models=self._model_rows(),
            results=self.results.values(),
            audit={behaviour: audit.to_dict() for behaviour, audit in self.audits.items()},
        )

    def write(self, *, stop_reason: str | None = None) -> ReportData | None:
        """Data first (results.json, examples.csv), then the views; called after every item (``stop_reason`` None:
        still running) and at the end. A folder that stops being writable is said in one line, and the run goes on."""
        if not self.results or self.folder is None:
            return None
        data = self.data(stop_reason=stop_reason)
        try:
            data.write(self.directory)
            if stop_reason is not None:
                write_views(data, self.directory, breakdowns=self.config.getoption("breakdown"), summary=True)
                self.write_failure = None  # the final report is whole, whatever an earlier write met
        except OSError as error:
            self._write_failed(f"the report could not be written to {self.directory}: {first_line(error)}")
        return data

    def _write_failed(self, message: str) -> None:
        """Said once, in one line; the exit code (7) says it again to CI."""
        if self.write_failure is None:
            notifier(self.config)(message)
            self.write_failure = message

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        stop_reason = _stop_reason(session, exitstatus, self.results.values())
        self.final = self.write(stop_reason=stop_reason)
        if self.final is not None and stop_reason != "completed" and self.config.getoption("save_baseline"):
            notifier(self.config)(f"baseline not saved: the run was {stop_reason}, and a baseline must be whole")
        elif self.final is not None:
            try:
                self.saved_baseline = gate.save(self.config, self.baselines, self.final, list(self.results.values()))
            except (OSError, gate.BaselineError) as error:
                self._write_failed(f"the baseline could not be saved: {error}")
        if self.folder is not None:
            self.folder.release()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        data = self.final
        if data is None:
            return
        if self.audit_only:
            terminalreporter.section("scalecheck: validity audit")
            terminalreporter.write_line(render(audit_table(data)))
            for line in audit_failures(data):
                terminalreporter.write_line(f"audit: {line}")
            terminalreporter.write_line(f"results: {self.directory}")
            return
        terminalreporter.section("scalecheck: pass rate by model size")
        terminalreporter.write_line(render(rate_table(data)))
        for note in footnotes(data):
            terminalreporter.write_line(note)
        failures = audit_failures(data)
        terminalreporter.write_line(
            f"validity audit: {len(failures)} warnings" if failures else "validity audit: every check passed"
        )
        for line in failures:
            terminalreporter.write_line(f"  warning: {line}")
        for axis in self.config.getoption("breakdown"):
            for behaviour in data.summary["behaviour"].unique():
                terminalreporter.write_line("")
                terminalreporter.write_line(f"{behaviour} by {axis}:")
                terminalreporter.write_line(render(breakdown_table(data, behaviour, axis)))
        terminalreporter.write_line("")
        terminalreporter.write_line(
            f"rate = share of the distinct cases drawn uniformly (seed {self.seed!r}, the same cases for every "
            "model) on which the behaviour's assertion held; loss = the prize's loss for the behaviour's metric; "
            "prior = the rate an answer preference alone gives (classes after content-free prompts); "
            f"trend: {PAIR_TEST_WORDS[stopping_mode(data)]} between sizes, Holm-corrected across behaviours "
            "(rule in report.md)"
        )
        if self.gate is not None:
            terminalreporter.section(f"scalecheck: against baseline {self.gate.baseline.name}")
            for result in self.results.values():
                verdict = result.baseline_verdict or result.status
                pinned = f"; {result.pinned}" if result.pinned else ""
                terminalreporter.write_line(f"{result.behaviour} on {result.model}: {verdict}{pinned}")
        if self.write_failure is not None:
            terminalreporter.write_line(self.write_failure)
        else:
            terminalreporter.write_line(f"results: {self.directory}")
        if self.saved_baseline is not None:
            terminalreporter.write_line(f"baseline saved: {self.saved_baseline}")


def _outcome(record: ExampleRecord) -> Outcome:
    """An example as the stopping rules see it: its case key and whether it passed (None: too long, not scored)."""
    return record.key, None if record.too_long else record.passed
