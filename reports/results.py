"""The run's results as data: one row per behaviour x model, one row per example, and the files that hold them.

Everything the report shows is computed from a ``ReportData``, whether it was just collected by the plugin or
read back from report folders (so separate runs can be merged without re-scoring).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from generators.case import Case
from reports.files import write_atomically
from reports.stats import Z_95, wilson_interval
from runner.counting import CountedRun

RESULTS_JSON = "results.json"
EXAMPLES_CSV = "examples.csv"
SUMMARY_COLUMNS = [
    "behaviour", "model", "status", "n", "passed", "rate", "ci_low", "ci_high", "loss", "loss_ci", "metric",
    "prior_rate", "required_rate", "examples", "drawn", "too_long", "seconds", "nodeid", "minimal_failing_example",
    "error", "error_kind", "baseline_verdict", "pinned", "stopped", "bar_verdict", "stopping",
]  # fmt: skip
"""``stopped`` (why a sequential run stopped scoring: "decided" or "cap"), ``bar_verdict`` (its bar decision:
"above", "below" or "undecided") and ``stopping`` (the whole stopping record) are empty in a fixed run."""
ERROR_KINDS = ("model", "behaviour")
"""Why an item errored: its model could not be loaded, or the behaviour itself is broken (bad data, a strategy
that cannot draw, a test body that raises something other than a failed assertion)."""


def _rounded(value: float) -> float | None:
    """JSON has no NaN: a missing statistic is null."""
    return None if math.isnan(value) else round(value, 6)


@dataclass
class BehaviourResult:
    """One behaviour for one model: its counted examples and the verdict the item got."""

    behaviour: str
    model: str
    nodeid: str
    required_rate: float
    examples: int = 0
    status: str = "running"
    seconds: float = 0.0
    minimal_failing_example: str | None = None
    error: str | None = None
    error_kind: str | None = None
    baseline_verdict: str | None = None
    pinned: str | None = None
    minimal_cases: Mapping[str, Case] = field(default_factory=dict)
    prior_rate: float | None = None
    run: CountedRun = field(default_factory=CountedRun)
    stopping: dict[str, Any] | None = None
    """A sequential run's stopping record (``runner.stopping.SizeStopping.record``); None in a fixed run."""

    @property
    def n(self) -> int:
        return self.run.n

    @property
    def rate(self) -> float:
        return self.run.rate

    def meets_bar(self) -> bool:
        """The item's pass/fail against its required rate. Sequential: the anytime-valid bar decision, which stays
        valid although the run looked after every block; undecided at the cap (the whole stream scored, as a fixed
        run) the point estimate, as a fixed run judges it."""
        verdict = "undecided" if self.stopping is None else self.stopping["bar"]["verdict"]
        if verdict != "undecided":
            return verdict == "above"
        return bool(self.n) and self.rate >= self.required_rate

    def losses(self) -> list[float]:
        """Each example's loss under the metric that judged it (the prize's loss for that metric)."""
        return [record.verdict.loss for record in self.run.judged if not math.isnan(record.verdict.loss)]

    def metric(self) -> str | None:
        metrics = sorted({record.verdict.metric for record in self.run.judged})
        return "+".join(metrics) or None

    def summary(self) -> dict[str, Any]:
        """The behaviour x model row: rate with its 95% Wilson interval, mean loss with its 95% half-width."""
        low, high = wilson_interval(self.run.passed, self.n)
        losses = self.losses()
        spread = statistics.stdev(losses) / math.sqrt(len(losses)) if len(losses) > 1 else math.nan
        return {
            "behaviour": self.behaviour,
            "model": self.model,
            "status": self.status,
            "n": self.n,
            "passed": self.run.passed,
            "rate": _rounded(self.rate if self.n else math.nan),
            "ci_low": _rounded(low),
            "ci_high": _rounded(high),
            "loss": _rounded(statistics.fmean(losses) if losses else math.nan),
            "loss_ci": _rounded(Z_95 * spread),
            "metric": self.metric(),
            "prior_rate": None if self.prior_rate is None else round(self.prior_rate, 6),
            "required_rate": self.required_rate,
            "examples": self.examples,
            "drawn": self.run.drawn,
            "too_long": self.run.too_long,
            "seconds": round(self.seconds, 2),
            "nodeid": self.nodeid,
            "minimal_failing_example": self.minimal_failing_example,
            "error": self.error,
            "error_kind": self.error_kind,
            "baseline_verdict": self.baseline_verdict,
            "pinned": self.pinned,
            "stopped": None if self.stopping is None else self.stopping["stopped"],
            "bar_verdict": None if self.stopping is None else self.stopping["bar"]["verdict"],
            "stopping": self.stopping,
        }

    def example_rows(self) -> Iterable[dict[str, Any]]:
        """One row per counted example: its first case (drawn, or else scored), and that case's scores if the
        behaviour scored it with ``lm.score`` (behaviours on raw log-likelihoods have no class scores)."""
        for record in self.run.records:
            row: dict[str, Any] = {"behaviour": self.behaviour, "model": self.model, "case_id": record.key}
            scored = record.scored[0] if record.scored else None
            case = record.cases[0] if record.cases else (scored.case if scored else None)
            if case is not None:
                row.update({f"axis_{axis}": value for axis, value in case.axes.items()})
                row.update(
                    prompt=case.prompt,
                    classes=json.dumps(case.classes, ensure_ascii=False),
                    answer_index=case.answer_index,
                )
            if scored is not None:
                row.update(logprobs=json.dumps([round(value, 6) for value in scored.logprobs]), choice=scored.choice)
            verdict = record.verdict
            row.update(
                metric=verdict.metric,
                passed=None if record.too_long else verdict.passed,
                too_long=record.too_long,
                loss=None if math.isnan(verdict.loss) else round(verdict.loss, 6),
                reason=verdict.reason,
            )
            yield row

    def verdicts(self) -> list[dict[str, Any]]:
        """Each example's verdict as data, for results.json (examples.csv holds the same with the cases)."""
        return [
            {
                "case_id": record.key,
                "metric": record.verdict.metric,
                "passed": None if record.too_long else record.verdict.passed,
                "too_long": record.too_long,
                "loss": None if math.isnan(record.verdict.loss) else round(record.verdict.loss, 6),
                "reason": record.verdict.reason,
            }
            for record in self.run.records
        ]


def judged(examples: pd.DataFrame) -> pd.DataFrame:
    """The example rows with a verdict: a too-long example (``passed`` empty) is neither a pass nor a fail."""
    return examples if examples.empty else examples[examples["passed"].notna()]


def stream_order(examples: pd.DataFrame) -> list[str]:
    """A behaviour's case ids in the order they were drawn: every model's rows are a prefix of the shared stream
    in that order, so the longest one, then any others, gives it (also across merged runs)."""
    by_model = sorted((rows["case_id"].tolist() for _, rows in examples.groupby("model", sort=False)), key=len)
    return list(dict.fromkeys(case for ids in reversed(by_model) for case in ids))


def axis_counts(examples: pd.DataFrame) -> dict[str, dict[str, int]]:
    """How often each value of each case axis was drawn: the population a rate estimates, made visible."""
    counts = {}
    for column in (column for column in examples.columns if column.startswith("axis_")):
        values = Counter(str(value) for value in examples[column].dropna())
        counts[column.removeprefix("axis_")] = dict(sorted(values.items()))
    return counts


@dataclass
class ReportData:
    """A run's results: metadata, models in size order, one row per behaviour x model, one per example."""

    run: dict[str, Any]
    models: list[dict[str, Any]]
    summary: pd.DataFrame
    examples: pd.DataFrame
    audit: dict[str, Any] = field(default_factory=dict)
    """The validity audit of each behaviour (``runner.audit``), as data."""
    verdicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Each result's per-example verdicts, by nodeid."""

    @classmethod
    def collect(
        cls,
        *,
        run: dict[str, Any],
        models: list[dict[str, Any]],
        results: Iterable[BehaviourResult],
        audit: Mapping[str, Any] | None = None,
    ) -> ReportData:
        results = list(results)
        summary = pd.DataFrame([result.summary() for result in results], columns=SUMMARY_COLUMNS)
        examples = pd.DataFrame([row for result in results for row in result.example_rows()])
        verdicts = {result.nodeid: result.verdicts() for result in results if result.run.records}
        return cls(
            run=run, models=models, summary=summary, examples=examples, audit=dict(audit or {}), verdicts=verdicts
        )

    @property
    def model_labels(self) -> list[str]:
        return [model["label"] for model in self.models]

    def behaviours(self) -> dict[str, dict[str, Any]]:
        described = {}
        for behaviour, rows in self.summary.groupby("behaviour", sort=False):
            examples = self.examples_of(behaviour)
            first_model = examples[examples["model"] == examples["model"].iloc[0]] if len(examples) else examples
            described[behaviour] = {
                "required_rate": float(rows["required_rate"].iloc[0]),
                "axes": axis_counts(first_model),
            }
        return described

    def examples_of(self, behaviour: str) -> pd.DataFrame:
        if self.examples.empty:
            return self.examples
        return self.examples[self.examples["behaviour"] == behaviour]

    def write(self, directory: Path) -> None:
        """Write the machine-readable files; every rendering is a view of them."""
        directory.mkdir(parents=True, exist_ok=True)
        document = {
            "run": self.run,
            "models": self.models,
            "behaviours": self.behaviours(),
            "results": json.loads(self.summary.to_json(orient="records")),
            "audit": self.audit,
            "verdicts": self.verdicts,
        }
        write_atomically(
            directory / RESULTS_JSON, json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
        )
        write_atomically(directory / EXAMPLES_CSV, self.examples.to_csv(index=False))

    @classmethod
    def read(cls, directory: Path) -> ReportData:
        results = directory / RESULTS_JSON
        if not results.is_file():
            raise FileNotFoundError(f"{directory}: no {RESULTS_JSON} (is it a scalecheck report folder?)")
        document = json.loads(results.read_text(encoding="utf-8"))
        try:
            examples = pd.read_csv(directory / EXAMPLES_CSV)
        except (FileNotFoundError, pd.errors.EmptyDataError):
            examples = pd.DataFrame()
        summary = pd.DataFrame(document["results"], columns=SUMMARY_COLUMNS)
        return cls(
            run=document["run"],
            models=document["models"],
            summary=summary,
            examples=examples,
            audit=document.get("audit", {}),
            verdicts=document.get("verdicts", {}),
        )
