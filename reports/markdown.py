"""A markdown report that reads well as a pull-request comment or a GitHub job summary."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import pandas as pd

from models.registry import human_count
from reports.results import ReportData
from reports.stats import trend_rule
from reports.table import (
    audit_failures,
    audit_table,
    breakdown_table,
    footnotes,
    rate_table,
    render,
    stopping_mode,
)


def fenced(text: str) -> list[str]:
    """A code block that ``text`` cannot close early: its fence is longer than any run of backticks inside."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return [fence, text, fence]


def _failing_examples(data: ReportData) -> list[str]:
    lines = []
    failed = data.summary[data.summary["minimal_failing_example"].notna()]
    for _, row in failed.iterrows():
        rate = f"{row['rate']:.2f} ({row['passed']}/{row['n']})" if not pd.isna(row["rate"]) else "no rate"
        title = f"{row['behaviour']} on {row['model']}: pass rate {rate}, required {row['required_rate']:.2f}"
        lines += [
            "<details>",
            f"<summary>{html.escape(title)}</summary>",
            "",
            *fenced(str(row["minimal_failing_example"])),
            "</details>",
        ]
    return lines


AUDIT_LEGEND = (
    "Per behaviour, over the cases it counted: cases, questions counted twice, the most common right answer's share "
    "(of how many distinct), few-shot prompts showing their own question among the demonstrations, declared axes "
    "passing a chi-square test against uniform (p >= 0.001); per model, cases whose classes share a token prefix "
    "under its tokenizer, and the prior: the pass rate when the classes are scored after content-free prompts only "
    "(N/A, [MASK], empty; Zhao et al. 2021), i.e. how much of a rate an answer preference alone would give."
)


def markdown_report(data: ReportData, *, breakdowns: Sequence[str] = (), plots: Sequence[str] = ()) -> str:
    run = data.run
    models = ", ".join(
        f"{model['label']} ({human_count(model['params'])})" if model.get("params") else model["label"]
        for model in data.models
    )
    lines = [
        f"## scalecheck: {run.get('family', '?')}",
        "",
        f"Models, smallest first: {models}.",
        "",
        render(rate_table(data, full=True), markdown=True),
        *(f"\n{note}" for note in footnotes(data)),
        "",
        "Cells: pass rate [95% Wilson interval], n distinct cases, mean loss under the behaviour's metric (the "
        "prize's; for classification the negative log-probability of the right class, normalised over the classes), "
        "and the prior: the rate an answer preference alone gives (the validity audit's control, below).",
        "",
        f"**Trend rule.** {trend_rule(stopping_mode(data))}",
        "",
        f"**Population.** {run.get('population', '')}",
    ]
    if data.audit:
        failures = audit_failures(data)
        lines += [
            "",
            "### Validity audit",
            "",
            render(audit_table(data), markdown=True),
            "",
            AUDIT_LEGEND,
            "",
            *([f"- {line}" for line in failures] or ["Every check passed."]),
        ]
    for behaviour in data.summary["behaviour"].unique():
        for axis in breakdowns:
            table = breakdown_table(data, behaviour, axis)
            if not table.empty:
                lines += ["", f"### {behaviour} by {axis}", "", render(table, markdown=True)]
    failing = _failing_examples(data)
    if failing:
        lines += ["", "### Minimal failing example per size", "", *failing]
    if plots:
        lines += ["", "### Plots", "", *(f"![{name}]({name})" for name in plots)]
    commit = run.get("commit") or "unknown"
    lines += ["", f"<sub>seed {run.get('seed')}, commit {commit}, {run.get('device')}/{run.get('dtype')}, "
              f"started {run.get('started')}</sub>", ""]  # fmt: skip
    return "\n".join(lines)
