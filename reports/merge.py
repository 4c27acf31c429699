"""Merge report folders from separate runs (one CI job per size, per machine...) without re-scoring."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reports.results import ReportData, stream_order


class MergeConflict(ValueError):
    """Runs that cannot be merged honestly; the message names the runs and what differs."""


def _case_streams(data: ReportData) -> dict[str, list[str]]:
    """Each behaviour's cases in the order they were drawn."""
    if data.examples.empty:
        return {}
    return {behaviour: stream_order(rows) for behaviour, rows in data.examples.groupby("behaviour") if not rows.empty}


def _stopping(runs: Sequence[ReportData]) -> dict[str, Any]:
    """A merge with any sequential run is judged as one: its anytime-valid pairwise test holds for a fixed n too,
    McNemar does not hold for an n chosen by looking."""
    modes = [data.run.get("stopping") or {"mode": "fixed"} for data in runs]
    return next((mode for mode in modes if mode.get("mode") == "sequential"), modes[0])


def merge_reports(runs: Sequence[ReportData], names: Sequence[str]) -> ReportData:
    """One report from several: refuses a model reported twice, or a behaviour asked different cases in two runs
    (a run that scored fewer of a behaviour's cases, stopping earlier or with a smaller --examples, asked a prefix
    of the same stream: it merges, and sizes are compared on the cases both answered)."""
    if len(runs) < 2:
        raise MergeConflict("give at least two report folders to merge")
    owner: dict[tuple[str, str], str] = {}
    cases: dict[str, tuple[str, list[str]]] = {}
    for data, name in zip(runs, names, strict=True):
        for behaviour, model in zip(data.summary["behaviour"], data.summary["model"], strict=True):
            if (behaviour, model) in owner:
                raise MergeConflict(f"{behaviour} on {model} is in both {owner[behaviour, model]} and {name}")
            owner[behaviour, model] = name
        for behaviour, ids in _case_streams(data).items():
            first, seen = cases.get(behaviour, (name, ids))
            shorter, longer = sorted((seen, ids), key=len)
            if longer[: len(shorter)] != shorter:
                raise MergeConflict(
                    f"{behaviour} was asked different cases in {first} and {name} (different seed or generator "
                    "version?); rerun them with the same settings to compare sizes"
                )
            cases[behaviour] = (first if len(seen) >= len(ids) else name, longer)
    models: dict[str, dict] = {}
    for data in runs:
        for model in data.models:
            models.setdefault(model["label"], model)
    scale = str(runs[0].run.get("scale") or "params")
    ordered = sorted(models.values(), key=lambda model: (model.get(scale) is None, model.get(scale) or 0))
    first = runs[0].run
    run = {
        **first,
        "family": "+".join(dict.fromkeys(str(data.run.get("family")) for data in runs)),
        "stopping": _stopping(runs),
        "merged_from": [{"report": name, **data.run} for data, name in zip(runs, names, strict=True)],
    }
    return ReportData(
        run=run,
        models=ordered,
        summary=pd.concat([data.summary for data in runs], ignore_index=True),
        examples=pd.concat([data.examples for data in runs], ignore_index=True),
        audit=_merged_audits(runs),
        verdicts={nodeid: rows for data in runs for nodeid, rows in data.verdicts.items()},
    )


def _merged_audits(runs: Sequence[ReportData]) -> dict[str, Any]:
    """The same cases (checked above) have the same model-free audit; per-model figures are joined."""
    merged: dict[str, Any] = {}
    for data in runs:
        for behaviour, audit in data.audit.items():
            into = merged.setdefault(behaviour, {**audit, "prefix_cases": {}, "prior_rate": {}, "failures": []})
            into["prefix_cases"].update(audit.get("prefix_cases", {}))
            into["prior_rate"].update(audit.get("prior_rate", {}))
            into["failures"] = list(dict.fromkeys([*into["failures"], *audit.get("failures", [])]))
    return merged


def merge_folders(folders: Sequence[Path]) -> ReportData:
    return merge_reports([ReportData.read(folder) for folder in folders], [str(folder) for folder in folders])
