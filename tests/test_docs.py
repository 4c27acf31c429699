"""docs/bad-inputs.md: every row names a test that exists, and there are at least 25 of them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
TABLE = ROOT / "docs" / "bad-inputs.md"
REFERENCE = re.compile(r"`(tests/\w+\.py)::(\w+)(?:\[([\w-]+)\])?`")


def test_every_bad_input_row_names_tests_that_exist() -> None:
    rows = [line for line in TABLE.read_text().splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) >= 25
    for row in rows:
        references = REFERENCE.findall(row.rsplit("|", 2)[1])
        assert references, f"no test named in: {row[:80]}"
        for path, name, parameter in references:
            source = (ROOT / path).read_text()
            defined = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}
            assert name in defined, f"{path}::{name} does not exist"
            if parameter:
                assert f'"{parameter}"' in source, f"{path}::{name}[{parameter}] does not exist"


def test_the_readme_links_the_table() -> None:
    assert "docs/bad-inputs.md" in (ROOT / "README.md").read_text()
