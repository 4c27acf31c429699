"""The regression gate's pytest face: options, per-item verdicts against a baseline, saving a baseline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models.under_test import ModelUnderTest
from reports.baseline import (
    FAILING_VERDICTS,
    Baseline,
    BaselineError,
    PinnedCase,
    check_name,
    compare_outcomes,
    overwrite_refusal,
    parse_compare,
    save_baseline,
)
from reports.files import FolderError, writable_folder
from reports.results import BehaviourResult, ReportData
from runner.sequential import Decision
from runner.shrinking import replay


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("scalecheck baseline", "scalecheck: saved baselines and the regression gate")
    group.addoption("--baseline-dir", default="baselines", help="folder of saved baselines (default: baselines)")
    group.addoption(
        "--save-baseline", metavar="NAME", default=None, help="save this run as baseline NAME (a plain name)"
    )
    group.addoption(
        "--overwrite-baseline", action="store_true", help="let --save-baseline replace an existing baseline NAME"
    )
    group.addoption(
        "--compare",
        metavar="NAME[:MAP]",
        default=None,
        help="gate on regressions against baseline NAME; MAP is BASE (every model against baseline model BASE) "
        "or NEW=BASE,... (default: same labels)",
    )
    group.addoption("--regression-alpha", type=float, default=0.05, help="significance level of the paired test")
    group.addoption(
        "--regression-tolerance", type=float, default=0.0, help="largest pass-rate drop that is not a regression"
    )


@dataclass
class RegressionGate:
    """Judges each behaviour x model by its paired change against a baseline, not by an absolute bar."""

    baseline: Baseline
    mapping: Mapping[str, str] | str | None
    alpha: float
    tolerance: float

    @classmethod
    def from_config(cls, config: pytest.Config, root: Path) -> RegressionGate | None:
        value = config.getoption("compare")
        if value is None:
            return None
        alpha, tolerance = config.getoption("regression_alpha"), config.getoption("regression_tolerance")
        if not 0 < alpha < 1:
            raise pytest.UsageError(f"--regression-alpha must be between 0 and 1, got {alpha}")
        if not 0 <= tolerance < 1:
            raise pytest.UsageError(f"--regression-tolerance must be in [0, 1), got {tolerance}")
        try:
            name, mapping = parse_compare(value)
            return cls(Baseline.load(root, name), mapping, alpha, tolerance)
        except BaselineError as error:
            raise pytest.UsageError(str(error)) from None

    def baseline_model(self, model: str) -> str:
        if isinstance(self.mapping, str):
            return self.mapping
        return (self.mapping or {}).get(model, model)

    def outcomes_before(self, result: BehaviourResult) -> pd.Series:
        """The baseline model's outcomes for this behaviour x model, by case id (empty if it has none)."""
        return self.baseline.outcomes_of(result.behaviour, self.baseline_model(result.model))

    def judge(
        self,
        result: BehaviourResult,
        test: Any,
        fixtures: Mapping[str, Any],
        model: ModelUnderTest,
        *,
        sequential: Decision | None = None,
    ) -> str | None:
        """Record the comparison on ``result``; return a failure message when it is a regression. ``sequential``:
        the anytime-valid gate's decision in a sequential run (``compare_outcomes`` says how it judges)."""
        base_model = self.baseline_model(result.model)
        before = self.outcomes_before(result)
        if before.empty:
            result.baseline_verdict = f"not in baseline {self.baseline.name}:{base_model}"
            return None
        now = pd.Series({record.key: record.passed for record in result.run.judged}, dtype=bool)
        comparison = compare_outcomes(
            now,
            before,
            name=self.baseline.name,
            baseline_model=base_model,
            alpha=self.alpha,
            tolerance=self.tolerance,
            sequential=sequential,
        )
        result.baseline_verdict = comparison.describe()
        pins = self.baseline.pinned_for(result.behaviour, base_model)
        if pins:
            replays = [replay(test, fixtures, model, pin.cases) for pin in pins]
            still = sum(record is not None and record.failed for record in replays)
            result.pinned = f"{still} of {len(pins)} pinned failing cases still fail"
        if comparison.verdict not in FAILING_VERDICTS:
            return None
        lost = [key for key in before.index.intersection(now.index) if before[key] and not now[key]]
        lines = [f"{result.behaviour} on {result.model}: {comparison.describe()}"]
        if lost:
            prompts = {record.key: record.cases[0].prompt for record in result.run.records if record.cases}
            lines.append(f"{len(lost)} cases passed in the baseline and fail now, e.g.:")
            lines += [f"  {key}: {prompts.get(key, '')!r}" for key in lost[:3]]
        if comparison.verdict == "mismatched cases":
            lines.append(
                "remedy: run with the baseline's --hypothesis-seed and --examples so both answer the same cases"
            )
        return "\n".join(lines)


def check_save(config: pytest.Config, root: Path) -> None:
    """Before any model loads: a plain name, a writable baseline folder, and no silent replacement of a baseline."""
    name = config.getoption("save_baseline")
    if name is None:
        return
    try:
        folder = root / check_name(name, "--save-baseline")
        writable_folder(root, "--baseline-dir")
    except (BaselineError, FolderError) as error:
        raise pytest.UsageError(str(error)) from None
    if folder.exists() and not config.getoption("overwrite_baseline"):
        raise pytest.UsageError(overwrite_refusal(folder))


def save(config: pytest.Config, root: Path, data: ReportData, results: list[BehaviourResult]) -> Path | None:
    name = config.getoption("save_baseline")
    if name is None:
        return None
    pins = [
        PinnedCase(result.behaviour, result.model, result.minimal_cases) for result in results if result.minimal_cases
    ]
    return save_baseline(root, name, data, pins, overwrite=config.getoption("overwrite_baseline"))
