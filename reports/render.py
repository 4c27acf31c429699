"""Write every view of a ReportData next to its data: table.md, report.md, breakdowns, plots, job summary."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reports.files import write_atomically
from reports.markdown import markdown_report
from reports.plots import write_plots
from reports.results import ReportData
from reports.table import breakdown_table, footnotes, rate_table, render

TABLE_MD = "table.md"
REPORT_MD = "report.md"


def write_views(data: ReportData, directory: Path, *, breakdowns: Sequence[str] = (), summary: bool = False) -> None:
    """``summary`` also appends report.md to $GITHUB_STEP_SUMMARY when that variable is set (end of a run only)."""
    notes = "".join(f"\n{note}\n" for note in footnotes(data))
    write_atomically(directory / TABLE_MD, render(rate_table(data), markdown=True) + "\n" + notes)
    for axis in breakdowns:
        for behaviour in data.summary["behaviour"].unique():
            table = breakdown_table(data, behaviour, axis)
            if not table.empty:
                write_atomically(directory / f"breakdown-{behaviour}-{axis}.csv", table.to_csv())
    plots = [path.name for path in write_plots(data, directory)]
    report = markdown_report(data, breakdowns=breakdowns, plots=plots)
    write_atomically(directory / REPORT_MD, report)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(report + "\n")
