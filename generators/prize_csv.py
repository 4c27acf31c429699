"""Inverse Scaling Prize CSV files as cases: read, checked row by row, sampled by Hypothesis.

The prize's format has one row per example and a metric chosen per file:

- ``classification``: ``prompt``, ``classes`` (a Python list literal such as ``[" yes", " no"]``), ``answer_index``;
- ``sequence_prob``: ``prompt``, ``completion``;
- ``logodds`` and ``absolute_logodds``: ``prompt``, ``other_prompt``, ``classes`` (exactly two), ``answer_index``.

Other columns (a pandas index, notes) are ignored. A file that breaks the format fails when the strategy is
built, so at collection, with one line naming the file, the row and what to change. Each row becomes a plain
``Case`` (what pinned baselines store and replay): a ``logodds`` row is two cases, on ``prompt`` and on
``other_prompt``, drawn together; a ``sequence_prob`` row has no rival class, so its case lists the completion
and an empty class that stands for "anything else" and is never scored.
"""

from __future__ import annotations

import ast
import csv
import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from generators.case import AxisValue, Case
from generators.options import require_choice

Metric = Literal["classification", "sequence_prob", "logodds", "absolute_logodds"]
METRICS: tuple[Metric, ...] = ("classification", "sequence_prob", "logodds", "absolute_logodds")
LOGODDS_METRICS = ("logodds", "absolute_logodds")
COLUMNS: dict[str, tuple[str, ...]] = {
    "classification": ("prompt", "classes", "answer_index"),
    "sequence_prob": ("prompt", "completion"),
    "logodds": ("prompt", "other_prompt", "classes", "answer_index"),
    "absolute_logodds": ("prompt", "other_prompt", "classes", "answer_index"),
}
Side = Literal["prompt", "other_prompt"]


class PrizeCsvError(InvalidArgument):
    """A prize CSV that cannot be used as it is; the one-line message names the file, the row and the remedy."""


@dataclass(frozen=True)
class PrizeRow:
    """One example of a prize CSV: its data row number (1 is the row under the header) and its cases."""

    number: int
    case: Case
    other: Case | None = None


def _classes(where: str, text: str, *, pairs_only: bool) -> tuple[str, ...]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise PrizeCsvError(f'{where}: classes {text!r} is not a Python list of strings; write it like [" yes", " no"]')
    if len(value) < 2 or len(set(value)) != len(value):
        raise PrizeCsvError(f"{where}: classes {text!r} needs at least two different classes")
    if not all(value):
        raise PrizeCsvError(f"{where}: classes {text!r} has an empty class, which a model cannot be asked to score")
    if pairs_only and len(value) != 2:
        raise PrizeCsvError(f"{where}: classes {text!r} has {len(value)} classes; logodds metrics compare exactly two")
    return tuple(value)


def _answer_index(where: str, text: str, classes: tuple[str, ...]) -> int:
    try:
        index = int(text.strip())
    except ValueError:
        raise PrizeCsvError(
            f"{where}: answer_index {text!r} is not a whole number; give 0 to {len(classes) - 1}"
        ) from None
    if not 0 <= index < len(classes):
        raise PrizeCsvError(
            f"{where}: answer_index {index} is out of range for {len(classes)} classes; give 0 to {len(classes) - 1}"
        )
    return index


def _text(where: str, row: Mapping[str, str | None], column: str) -> str:
    value = row.get(column)
    if value is None or not value.strip():
        raise PrizeCsvError(f"{where}: {column} is empty; every row needs one")
    return value


def _row(
    where: str, number: int, row: Mapping[str, str | None], metric: Metric, axes: dict[str, AxisValue]
) -> PrizeRow:
    prompt = _text(where, row, "prompt")
    axes = {**axes, "row": number}
    if metric == "sequence_prob":
        return PrizeRow(
            number, Case(prompt=prompt, classes=(_text(where, row, "completion"), ""), answer_index=0, axes=axes)
        )
    classes = _classes(where, _text(where, row, "classes"), pairs_only=metric in LOGODDS_METRICS)
    index = _answer_index(where, _text(where, row, "answer_index"), classes)
    axes["answer_position"] = index
    case = Case(prompt=prompt, classes=classes, answer_index=index, axes=axes)
    if metric not in LOGODDS_METRICS:
        return PrizeRow(number, case)
    other_prompt = _text(where, row, "other_prompt")
    return PrizeRow(
        number,
        case,
        Case(prompt=other_prompt, classes=classes, answer_index=index, axes={**axes, "side": "other_prompt"}),
    )


def _utf8_text(path: str | Path, raw: bytes) -> str:
    """The file's text (a UTF-8 byte-order mark dropped); a byte that is not UTF-8 is named by line and offset."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        byte = raw[error.start : error.start + 1].hex()
        raise PrizeCsvError(
            f"prize CSV {path}, line {line} (byte {error.start}): 0x{byte} is not UTF-8; save the file as UTF-8"
        ) from None


def load_prize_csv(path: str | Path, *, metric: Metric) -> tuple[PrizeRow, ...]:
    """Every row of a prize CSV, checked; raises ``PrizeCsvError`` at the first row that breaks the format."""
    require_choice("load_prize_csv", "metric", metric, METRICS)
    source = Path(path)
    if not source.is_file():
        raise PrizeCsvError(f"prize CSV {path}: no such file; give a path relative to where pytest runs, or absolute")
    with io.StringIO(_utf8_text(path, source.read_bytes()), newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS[metric] if column not in (reader.fieldnames or [])]
        if missing:
            raise PrizeCsvError(
                f"prize CSV {path}, row 0 (header): missing column(s) {', '.join(missing)} for metric {metric!r}; "
                f"the header must name {', '.join(COLUMNS[metric])}"
            )
        rows, last_line = [], reader.line_num
        for number, row in enumerate(reader, start=1):
            where = f"prize CSV {path}, row {number} (line {last_line + 1})"
            if None in row:
                raise PrizeCsvError(f"{where}: more fields than the header names; quote fields that contain commas")
            rows.append(_row(where, number, row, metric, {"metric": metric, "source": source.name}))
            last_line = reader.line_num
    if not rows:
        raise PrizeCsvError(f"prize CSV {path}: no rows under the header; add at least one example")
    unspaced = [row.number for row in rows if not all(option.startswith(" ") for option in row.case.classes if option)]
    if unspaced and metric != "sequence_prob":
        warnings.warn(
            f"prize CSV {path}, rows {unspaced[:5]}: classes without a leading space are scored as they are "
            "(the prize puts the space in the class, not at the end of the prompt)",
            stacklevel=2,
        )
    return tuple(rows)


def prize_csv_cases(path: str | Path, *, metric: Metric, side: Side = "prompt") -> st.SearchStrategy[Case]:
    """A row of the file per example; ``side="other_prompt"`` gives the same row's other case (logodds metrics).

    Both sides draw from one shared row, so ``@given(case=prize_csv_cases(p, metric="logodds"),
    other=prize_csv_cases(p, metric="logodds", side="other_prompt"))`` sees the two prompts of one row.
    """
    require_choice("prize_csv_cases", "side", side, ("prompt", "other_prompt"))
    if side == "other_prompt" and metric not in LOGODDS_METRICS:
        raise InvalidArgument(f"prize_csv_cases(side='other_prompt') needs a logodds metric, got {metric!r}")
    rows = load_prize_csv(path, metric=metric)
    row = st.shared(st.sampled_from(rows), key=f"prize-csv:{Path(path).resolve()}:{metric}")
    return row.map(lambda chosen: chosen.case if side == "prompt" else chosen.other)
