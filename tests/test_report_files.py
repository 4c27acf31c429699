"""What the report writes holds up: atomic files under unique names, one run per folder, markdown tables that
stay whole whatever the labels say, and the exit-code rule."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pandas as pd
import pytest

from reports.exitcodes import Exit, exit_code
from reports.files import FolderError, atomic_folder, hold_folder, write_atomically
from reports.table import render
from tests.project import markdown_table_rows


def test_concurrent_writers_of_one_file_never_collide_and_readers_see_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    contents = [f"writer {number}\n" * 5000 for number in range(4)]
    errors: list[BaseException] = []
    seen: set[str] = set()

    def write(text: str) -> None:
        try:
            for _ in range(100):
                write_atomically(target, text)
                seen.add(target.read_text())
        except BaseException as error:  # noqa: BLE001 - any failure in a writer fails the test
            errors.append(error)

    threads = [threading.Thread(target=write, args=(text,)) for text in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and seen <= set(contents) and target.read_text() in contents
    assert [path.name for path in tmp_path.iterdir()] == ["results.json"]


def test_written_files_and_folders_get_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    write_atomically(tmp_path / "table.md", "x")
    with atomic_folder(tmp_path / "baseline") as folder:
        write_atomically(folder / "outcomes.csv", "y")
    assert (tmp_path / "table.md").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "baseline").stat().st_mode & 0o777 == 0o777 & ~umask


def test_a_folder_is_replaced_whole_and_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "rel"
    with atomic_folder(target) as folder:
        (folder / "a").write_text("first")
    with pytest.raises(FileExistsError), atomic_folder(target) as folder:
        (folder / "a").write_text("second")
    with pytest.raises(RuntimeError), atomic_folder(target, replace=True) as folder:
        raise RuntimeError("a crash half way")
    assert (target / "a").read_text() == "first"
    with atomic_folder(target, replace=True) as folder:
        (folder / "a").write_text("third")
    assert (target / "a").read_text() == "third" and [path.name for path in tmp_path.iterdir()] == ["rel"]


def test_a_report_folder_is_held_by_one_run_at_a_time(tmp_path: Path) -> None:
    first = hold_folder(tmp_path / "report", "--report-dir")
    with pytest.raises(
        FolderError, match=rf"--report-dir {tmp_path}/report is in use by another scalecheck run \(pid {os.getpid()}\)"
    ):
        hold_folder(tmp_path / "report", "--report-dir")
    first.release()
    hold_folder(tmp_path / "report", "--report-dir").release()


def _cell_text(cell: str) -> str:
    """What GitHub shows for a cell: escaped pipes first, then backslash escapes of punctuation."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", cell.replace("\\|", "|"))


@pytest.mark.parametrize(
    "text", ["a|b", "a\\|b", "ends with \\", "two\nlines", "||", "\\\\|", "plain", "crlf\r\nline", "`a|b`"]
)
def test_markdown_cells_keep_the_table_whole_and_read_back_as_written(text: str) -> None:
    table = pd.DataFrame({text: [text, "x"], "trend": ["flat", text]}, index=pd.Index([text, "y"], name="behaviour"))
    rows = markdown_table_rows(render(table, markdown=True))
    assert {len(row) for row in rows} == {3}
    shown = " ".join(text.splitlines())
    assert [_cell_text(cell) for cell in (rows[0][1], rows[2][0], rows[2][1], rows[3][2])] == [shown] * 4


@pytest.mark.parametrize(
    ("status", "errors", "written", "expected"),
    [
        (0, [], True, Exit.OK),
        (1, [], True, Exit.BELOW_BAR),
        (1, ["model"], True, Exit.MODEL_FAILED),
        (1, ["model", "behaviour"], True, Exit.BROKEN),
        (1, [None], True, Exit.BROKEN),
        (2, [], True, Exit.BROKEN),
        (1, ["model"], False, Exit.REPORT_NOT_WRITTEN),
        (2, [], False, Exit.REPORT_NOT_WRITTEN),
        (4, [], False, Exit.USAGE),
        (3, ["model"], True, Exit.INTERNAL),
        (5, [], True, Exit.NOTHING_SELECTED),
    ],
)
def test_exit_code_rule(status: int, errors: list[str | None], written: bool, expected: Exit) -> None:
    assert exit_code(status, errors=errors, report_written=written) == expected
