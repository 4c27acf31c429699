"""Views of a ReportData as DataFrames: pass rate x size, trend verdicts, breakdowns by a case axis.

Each function returns a DataFrame (the data) and ``render`` turns any of them into text (the view).
"""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from reports.results import ReportData, judged, stream_order
from reports.stats import PAIR_TESTS, trend_p_value, trend_verdicts
from runner.audit import AXIS_ALPHA


def rate_rows(data: ReportData) -> pd.DataFrame:
    """Per behaviour x model: rate with its 95% Wilson interval, n, and the prize's classification loss."""
    columns = [
        "behaviour",
        "model",
        "status",
        "n",
        "passed",
        "rate",
        "ci_low",
        "ci_high",
        "loss",
        "loss_ci",
        "prior_rate",
        "stopped",
        "bar_verdict",
    ]
    rows = data.summary[[*columns, "required_rate", "too_long"]].copy()
    rows["too_long"] = rows["too_long"].fillna(0)  # reports written before prompts were checked for length
    return rows


def footnotes(data: ReportData) -> list[str]:
    """What the rate cells need said under them: how a sequential run chose each n, and the examples too long for
    a model's context, which were not scored and are not in n."""
    rows = rate_rows(data)
    return stopping_note(data) + [
        f"{row.behaviour} on {row.model}: {int(row.too_long)} examples longer than the model's context were not "
        "scored (too long: neither passed nor failed, not in n; see examples.csv)"
        for row in rows[rows["too_long"] > 0].itertuples()
    ]


STOPPING_NOTE = (
    "n = cases scored, a prefix of the behaviour's case stream (the same for every size). decided: the size "
    "stopped once its bar verdict was certain at {confidence:g} confidence (an anytime-valid test, so looking after "
    "every block of {block} cases costs no error) and so was each paired comparison with the sizes run before it "
    "(or those ran out of shared cases) and, with --compare, the gate; cap: it scored the whole stream with some of "
    "these undecided; undecided at cap: its bar verdict was one of them, and pass/fail is by the point estimate, as "
    "in a fixed run. Stopping rules: docs/sequential.md."
)


def stopping_note(data: ReportData) -> list[str]:
    """The footnote a sequential run's table needs: what n and the reason in each cell mean."""
    stopping = data.run.get("stopping") or {}
    if stopping.get("mode") != "sequential":
        return []
    return [STOPPING_NOTE.format(confidence=stopping["confidence"], block=stopping["block"])]


def _cell(row: pd.Series, *, full: bool) -> str:
    if row["status"] in ("error", "skipped", "not run") or pd.isna(row["rate"]):
        return str(row["status"])
    interval = f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]" if full else f"[{row['ci_low']:.2f},{row['ci_high']:.2f}]"
    loss = f" loss {row['loss']:.2f}" if not pd.isna(row["loss"]) else ""
    too_long = f"; {int(row['too_long'])} too long" if row["too_long"] > 0 else ""
    prior = f" prior {row['prior_rate']:.2f}" if not pd.isna(row["prior_rate"]) else ""
    return f"{row['rate']:.2f} {interval} (n={row['n']}{_stopped(row)}{too_long}){loss}{prior}"


def _stopped(row: pd.Series) -> str:
    """Why a sequential run stopped scoring this cell (nothing in a fixed run)."""
    if pd.isna(row["stopped"]):
        return ""
    return ", undecided at cap" if row["bar_verdict"] == "undecided" else f", {row['stopped']}"


def _by_model(frame: pd.DataFrame, index: str, values: str, models: list[str]) -> pd.DataFrame:
    table = frame.pivot(index=index, columns="model", values=values)
    return table.reindex(columns=[model for model in models if model in table.columns]).fillna("-")


def rate_table(data: ReportData, *, full: bool = False) -> pd.DataFrame:
    """Rows are behaviours, columns the models in size order; a cell is ``rate [CI] n=… loss …``."""
    if data.summary.empty:
        return pd.DataFrame()
    rows = rate_rows(data)
    rows["cell"] = rows.apply(_cell, axis=1, full=full)
    table = _by_model(rows, "behaviour", "cell", data.model_labels)
    trends = trend_table(data)
    if not trends.empty:
        table["trend"] = trends["trend"].reindex(table.index).fillna("-")
    return table


def paired_outcomes(data: ReportData, behaviour: str) -> pd.DataFrame:
    """Pass/fail of each case (rows, in stream order) under each model (columns, size order); empty where a model
    gave no verdict on the case (a sequential run stopped before it, or it was too long for the model)."""
    examples = data.examples_of(behaviour)
    if examples.empty:
        return pd.DataFrame()
    outcomes = examples.pivot(index="case_id", columns="model", values="passed").reindex(stream_order(examples))
    models = [model for model in data.model_labels if model in outcomes.columns]
    return outcomes[models]


def stopping_mode(data: ReportData) -> str:
    """ "sequential" if the run stopped each size when its verdicts were certain, else "fixed" (older reports too)."""
    return str((data.run.get("stopping") or {}).get("mode", "fixed"))


def trend_table(data: ReportData) -> pd.DataFrame:
    """The verdict for each behaviour across the sizes that produced results, each pair on the cases both
    answered, with the pairwise test of the run's stopping mode."""
    compare = PAIR_TESTS[stopping_mode(data)]
    behaviours = list(data.summary["behaviour"].unique())
    families, shared = [], []
    for behaviour in behaviours:
        outcomes = paired_outcomes(data, behaviour)
        families.append(
            [[None if pd.isna(passed) else bool(passed) for passed in outcomes[model]] for model in outcomes.columns]
        )
        shared.append(len(outcomes.dropna()))
    verdicts = {
        behaviour: {
            "trend": verdict,
            "sizes": len(columns),
            "shared_cases": cases,
            "p_value": trend_p_value(columns, compare=compare),
        }
        for behaviour, verdict, columns, cases in zip(
            behaviours, trend_verdicts(families, compare=compare), families, shared, strict=True
        )
    }
    return pd.DataFrame.from_dict(verdicts, orient="index")


def breakdown_table(data: ReportData, behaviour: str, axis: str) -> pd.DataFrame:
    """Pass rate of one behaviour by the values of one case axis (rows) and model (columns)."""
    examples = judged(data.examples_of(behaviour))
    column = f"axis_{axis}"
    if examples.empty or column not in examples:
        return pd.DataFrame()
    examples = examples.assign(passed=examples["passed"].astype(bool))
    grouped = examples.groupby([column, "model"])["passed"].agg(["mean", "size"]).reset_index()
    grouped["cell"] = [f"{mean:.2f} (n={size})" for mean, size in zip(grouped["mean"], grouped["size"], strict=True)]
    return _by_model(grouped, column, "cell", data.model_labels).rename_axis(axis)


def markdown_cell(value: object) -> str:
    """Text that stays inside one markdown table cell: an unescaped ``|`` would start a new cell and a line break
    a new row (GitHub then renders no table at all); backslashes are doubled so the text reads back as it was."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.splitlines())


def render(table: pd.DataFrame, *, markdown: bool = False) -> str:
    """The table as text: aligned columns for a terminal, or a GitHub markdown table with every cell escaped."""
    if table.empty:
        return "(no results)"
    headers = [table.index.name or "", *map(str, table.columns)]
    if not markdown:
        return tabulate(table, headers=headers, tablefmt="simple", disable_numparse=True)
    rows = [
        [markdown_cell(index), *map(markdown_cell, row)] for index, row in zip(table.index, table.values, strict=True)
    ]
    return tabulate(
        rows, headers=[markdown_cell(header) for header in headers], tablefmt="github", disable_numparse=True
    )


def audit_table(data: ReportData) -> pd.DataFrame:
    """One row per behaviour: the validity audit's figures (``runner.audit``), models' figures side by side."""
    rows = {}
    for behaviour, audit in data.audit.items():
        axes = audit.get("axes", {})
        tested = [axis for axis in axes.values() if axis.get("p_value") is not None]
        uniform = sum(axis["p_value"] >= AXIS_ALPHA for axis in tested)
        row = {
            "cases": audit["cases"],
            "duplicates": audit["duplicates"],
            "top answer": f"{audit['top_answer_share']:.0%} of {audit['distinct_answers']}",
            "leaked": audit["leaked"],
            "axes uniform": f"{uniform}/{len(tested)}",
        }
        for model in data.model_labels:
            prefix = audit.get("prefix_cases", {}).get(model)
            prior = audit.get("prior_rate", {}).get(model)
            row[f"prefix {model}"] = "-" if prefix is None else prefix
            row[f"prior {model}"] = "-" if prior is None else f"{prior:.2f}"
        rows[behaviour] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("behaviour")


def audit_failures(data: ReportData) -> list[str]:
    return [line for audit in data.audit.values() for line in audit.get("failures", [])]
