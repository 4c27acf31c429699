"""A scalecheck-shaped project for pytester: the real behaviour file, the plugins, scripted model families."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests import scripted

BEHAVIOUR = Path(__file__).parents[1] / "behaviours" / "test_repetition_suppression.py"
FAMILIES = """
[tool.scalecheck.families.scripted]
description = "scripted models with known answers"
sizes = [
    {label = "obeys", python = "tests.scripted:obeys", params = 2000},
    {label = "completes", python = "tests.scripted:completes_pattern", params = 1000},
]

[tool.scalecheck.families.half-broken]
sizes = [
    {label = "completes", python = "tests.scripted:completes_pattern", params = 1000},
    {label = "broken", python = "tests.scripted:broken", params = 2000},
    {label = "obeys", python = "tests.scripted:obeys", params = 3000},
]
"""


def make_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project laid out like scalecheck's, with the real behaviour file and scripted families."""
    pytester.makeconftest('pytest_plugins = ("models.fixtures", "runner.workers", "reports.plugin")')
    pytester.makepyprojecttoml(FAMILIES)
    behaviours = pytester.mkdir("behaviours")
    (behaviours / BEHAVIOUR.name).write_text(BEHAVIOUR.read_text())
    scripted.LIVE.clear()
    scripted.LOADED.clear()
    scripted.MAX_LIVE[0] = 0
    return pytester


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "scalecheck-report" / "results.json").read_text())


def examples(pytester: pytest.Pytester) -> pd.DataFrame:
    return pd.read_csv(pytester.path / "scalecheck-report" / "examples.csv")


def markdown_table_rows(markdown: str) -> list[list[str]]:
    """The rows of the first GitHub table in ``markdown``, split the way GitHub splits them: on every ``|`` that
    is not escaped by a backslash."""
    lines = next(block for block in markdown.split("\n\n") if block.startswith("|")).splitlines()
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in lines]
