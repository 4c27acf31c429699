"""The two plots the Inverse Scaling Prize asked of every submission: accuracy and loss against parameters."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.registry import human_count
from reports.files import atomic_path
from reports.results import ReportData
from reports.table import rate_rows

ACCURACY_PNG = "accuracy_vs_params.png"
LOSS_PNG = "loss_vs_params.png"


def _scale(data: ReportData) -> str:
    """What the x axis counts: parameters, or training tokens for a family of revisions of one model."""
    return str(data.run.get("scale") or "params")


def _plain(text: object) -> str:
    """A label matplotlib draws as written: a ``$`` pair would be parsed as math, and bad math fails the save."""
    return str(text).replace("$", r"\$")


def plot_frame(data: ReportData) -> pd.DataFrame:
    """Rate rows with the model's size on the family's scale; models of unknown size cannot be placed."""
    scale = _scale(data)
    sizes = {model["label"]: float(model[scale]) for model in data.models if model.get(scale)}
    rows = rate_rows(data)
    rows["size"] = rows["model"].map(sizes)
    return rows.dropna(subset=["size", "rate"]).sort_values("size")


def write_plots(data: ReportData, directory: Path) -> list[Path]:
    """Write the accuracy and loss plots (log x axis, one line per behaviour, 95% intervals drawn)."""
    frame = plot_frame(data)
    axis_name = "training tokens" if _scale(data) == "tokens" else "parameters"
    if frame.empty:
        return []
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import NullFormatter

    written = []
    for filename, column, label in (
        (ACCURACY_PNG, "rate", "pass rate (accuracy)"),
        (LOSS_PNG, "loss", "classification loss"),
    ):
        figure, axes = pyplot.subplots(figsize=(9, 4.8), dpi=120)
        for behaviour, rows in frame.groupby("behaviour", sort=False):
            rows = rows.dropna(subset=[column])
            if rows.empty:
                continue
            if column == "rate":
                errors = [(rows["rate"] - rows["ci_low"]).clip(lower=0), (rows["ci_high"] - rows["rate"]).clip(lower=0)]
                axes.errorbar(rows["size"], rows["rate"], yerr=errors, marker="o", capsize=4, label=_plain(behaviour))
            else:
                axes.errorbar(
                    rows["size"], rows["loss"], yerr=rows["loss_ci"], marker="o", capsize=4, label=_plain(behaviour)
                )
        axes.set_xscale("log")
        ticks = frame.drop_duplicates("size").sort_values("size")
        axes.set_xticks(
            ticks["size"],
            [
                f"{_plain(model)}\n{human_count(int(size))}"
                for model, size in zip(ticks["model"], ticks["size"], strict=True)
            ],
        )
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.margins(x=0.15)
        axes.set_xlabel(axis_name)
        axes.set_ylabel(label)
        if column == "rate":
            axes.set_ylim(-0.02, 1.02)
            axes.axhline(0.5, color="grey", linewidth=0.8, linestyle=":", label="chance (two classes)")
        family = _plain(data.run.get("family", ""))
        axes.set_title(f"{label} vs {axis_name} ({family})" if family else f"{label} vs {axis_name}")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        figure.tight_layout()
        path = directory / filename
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png")
        pyplot.close(figure)
        written.append(path)
    return written
