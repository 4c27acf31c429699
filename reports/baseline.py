"""Saved baselines and the regression gate: did this checkpoint get worse than the baseline, beyond noise?

A baseline is a folder of plain, sorted, diff-friendly files a team commits:
``outcomes.csv`` (behaviour, model, case_id, passed), ``summary.json`` (the run and its rates) and
``pinned.jsonl`` (the minimal failing cases Hypothesis found, replayed exactly by later runs).
Comparison pairs outcomes by case id and uses an exact McNemar test, so a behaviour every model fails is
not red forever: only a significant drop larger than the tolerance is a regression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from generators.case import Case
from reports.files import atomic_folder, write_atomically
from reports.results import ReportData, judged
from reports.stats import mcnemar_one_sided
from runner.sequential import Decision

OUTCOMES_CSV = "outcomes.csv"
SUMMARY_JSON = "summary.json"
PINNED_JSONL = "pinned.jsonl"
FAILING_VERDICTS = ("regression", "mismatched cases")
MIN_SHARED = 0.5
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SETTINGS = (
    "family", "scale", "device", "dtype", "seed", "examples_per_behaviour", "stopping", "command", "commit", "versions",
)  # fmt: skip
"""What a baseline records of the run that saved it, so a comparison can be made with the same settings."""


class BaselineError(ValueError):
    """A baseline that cannot be read or a comparison that cannot be made; the message names the remedy."""


def check_name(name: str, option: str) -> str:
    """A baseline name is a plain folder name under the baseline folder: never a path out of it."""
    if not PLAIN_NAME.fullmatch(name) or ".." in name:
        raise BaselineError(
            f"{option} {name!r}: a baseline name is a plain name of letters, digits, '.', '-' and '_' (no path "
            "separators, no '..'); use --baseline-dir to choose where baselines live"
        )
    return name


@dataclass(frozen=True)
class PinnedCase:
    """A failing example found in one run, kept so later runs check exactly that case."""

    behaviour: str
    model: str
    cases: Mapping[str, Case]

    def to_json(self) -> str:
        cases = {argument: case.to_dict() for argument, case in self.cases.items()}
        return json.dumps(
            {"behaviour": self.behaviour, "model": self.model, "cases": cases}, ensure_ascii=False, sort_keys=True
        )

    @classmethod
    def from_json(cls, line: str) -> PinnedCase:
        entry = json.loads(line)
        cases = {argument: Case.from_dict(fields) for argument, fields in entry["cases"].items()}
        return cls(behaviour=entry["behaviour"], model=entry["model"], cases=cases)


@dataclass(frozen=True)
class Baseline:
    name: str
    outcomes: pd.DataFrame
    summary: dict
    pinned: tuple[PinnedCase, ...]

    @classmethod
    def load(cls, root: Path, name: str) -> Baseline:
        folder = root / check_name(name, "--compare")
        if not (folder / OUTCOMES_CSV).is_file():
            saved = sorted(path.name for path in root.iterdir() if path.is_dir()) if root.is_dir() else []
            raise BaselineError(
                f"no baseline {name!r} in {root} (saved: {', '.join(saved) or 'none'}); save one with --save-baseline {name}"
            )
        pinned_path = folder / PINNED_JSONL
        pinned = pinned_path.read_text(encoding="utf-8").splitlines() if pinned_path.is_file() else []
        return cls(
            name=name,
            outcomes=pd.read_csv(folder / OUTCOMES_CSV, dtype={"case_id": str}),
            summary=json.loads((folder / SUMMARY_JSON).read_text(encoding="utf-8")),
            pinned=tuple(PinnedCase.from_json(line) for line in pinned if line.strip()),
        )

    def outcomes_of(self, behaviour: str, model: str) -> pd.Series:
        rows = self.outcomes[(self.outcomes["behaviour"] == behaviour) & (self.outcomes["model"] == model)]
        return rows.set_index("case_id")["passed"].astype(bool)

    def pinned_for(self, behaviour: str, model: str) -> list[PinnedCase]:
        return [pin for pin in self.pinned if pin.behaviour == behaviour and pin.model == model]


def save_baseline(
    root: Path, name: str, data: ReportData, pinned: Iterable[PinnedCase], *, overwrite: bool = False
) -> Path:
    """Write the baseline folder whole or not at all; an existing baseline is replaced only with ``overwrite``."""
    folder = root / check_name(name, "--save-baseline")
    root.mkdir(parents=True, exist_ok=True)
    outcomes = (
        judged(data.examples)[["behaviour", "model", "case_id", "passed"]].copy()
        if not data.examples.empty
        else pd.DataFrame(columns=["behaviour", "model", "case_id", "passed"])
    )
    outcomes["passed"] = outcomes["passed"].astype(int)
    summary = {
        "run": {key: data.run.get(key) for key in ("started", "finished", "stop_reason")},
        "settings": {key: data.run.get(key) for key in SETTINGS},
        "models": data.models,
        "rates": data.summary[["behaviour", "model", "n", "passed", "rate", "examples", "required_rate"]].to_dict(
            orient="records"
        ),
    }
    lines = sorted(pin.to_json() for pin in pinned)
    try:
        with atomic_folder(folder, replace=overwrite) as staging:
            write_atomically(
                staging / OUTCOMES_CSV, outcomes.sort_values(["behaviour", "model", "case_id"]).to_csv(index=False)
            )
            write_atomically(staging / SUMMARY_JSON, json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
            write_atomically(staging / PINNED_JSONL, "".join(line + "\n" for line in lines))
    except FileExistsError:
        raise BaselineError(f"{overwrite_refusal(folder)} (saved by another run meanwhile?)") from None
    return folder


def overwrite_refusal(folder: Path) -> str:
    return (
        f"--save-baseline {folder.name}: {folder} already exists and gates may compare against it; pass "
        "--overwrite-baseline to replace it, or choose another name"
    )


def parse_compare(value: str) -> tuple[str, dict[str, str] | str | None]:
    """``NAME`` (same labels), ``NAME:BASE`` (every model against BASE) or ``NAME:NEW=BASE,NEW2=BASE2``."""
    name, _, mapping = value.partition(":")
    if not name:
        raise BaselineError(f"--compare {value!r}: give a baseline name, e.g. --compare release-1.2:opt-1.3b")
    if not mapping:
        return name, None
    if "=" not in mapping:
        return name, mapping
    pairs = [pair.partition("=") for pair in mapping.split(",")]
    if any(not current or not base for current, _, base in pairs):
        raise BaselineError(f"--compare {value!r}: write pairs as NEW=BASE separated by commas")
    return name, {current: base for current, _, base in pairs}


@dataclass(frozen=True)
class BaselineComparison:
    """One behaviour x model against its baseline model, paired over the cases both runs answered."""

    baseline: str
    baseline_model: str
    shared: int
    only_baseline: int
    only_current: int
    baseline_rate: float
    current_rate: float
    p_value: float
    verdict: str
    test: str = "one-sided exact McNemar"
    """The test behind the verdict, in words: the fixed design's, or the anytime-valid gate of a sequential run."""

    def describe(self) -> str:
        unmatched = (
            f"; {self.only_baseline} cases only in the baseline, {self.only_current} only in this run"
            if self.only_baseline or self.only_current
            else ""
        )
        return (
            f"{self.verdict} vs {self.baseline}:{self.baseline_model}: {self.baseline_rate:.3f} -> {self.current_rate:.3f} "
            f"on {self.shared} shared cases ({self.test} p={self.p_value:.3g}){unmatched}"
        )


def compare_outcomes(
    current: pd.Series,
    baseline: pd.Series,
    *,
    name: str,
    baseline_model: str,
    alpha: float,
    tolerance: float,
    sequential: Decision | None = None,
) -> BaselineComparison:
    """Regression: the paired drop is significant at ``alpha`` and larger than ``tolerance`` (absolute rate).

    Runs that share fewer than half their cases did not answer the same questions: that is reported as
    ``mismatched cases`` and fails, rather than gating on a sliver of the data. In a sequential run ``sequential``
    is the anytime-valid gate's decision (``runner.sequential.GateSequence``, which stopped the scoring): decided,
    it is the verdict ("regression" or "no regression"); undecided at the cap, the fixed test below judges, as
    it would have judged a fixed run of that n, and the description says so.
    """
    shared = current.index.intersection(baseline.index)
    now, before = current.loc[shared], baseline.loc[shared]
    lost, gained = int((before & ~now).sum()), int((now & ~before).sum())
    n = len(shared)
    p_value = mcnemar_one_sided(lost, gained)
    before_rate = float(before.mean()) if n else float("nan")
    now_rate = float(now.mean()) if n else float("nan")
    if n == 0 or n < MIN_SHARED * min(len(current), len(baseline)):
        verdict = "mismatched cases"
    elif gained > lost:
        verdict = "improvement"
    elif p_value >= alpha or lost == gained:
        verdict = "no change"
    else:
        verdict = "regression" if (lost - gained) / n > tolerance else "within tolerance"
    test = "one-sided exact McNemar"
    if sequential is not None and verdict != "mismatched cases":
        if sequential.verdict == "undecided":
            test = f"the anytime-valid gate was undecided at the cap (n={sequential.n}); one-sided exact McNemar"
        else:
            verdict, p_value = sequential.verdict, sequential.p_value
            low, high = sequential.interval
            test = f"anytime-valid gate, decided at n={sequential.n}: drop [{low:.2f}, {high:.2f}],"
    return BaselineComparison(
        baseline=name,
        baseline_model=baseline_model,
        shared=n,
        only_baseline=len(baseline.index.difference(current.index)),
        only_current=len(current.index.difference(baseline.index)),
        baseline_rate=before_rate,
        current_rate=now_rate,
        p_value=p_value,
        verdict=verdict,
        test=test,
    )
