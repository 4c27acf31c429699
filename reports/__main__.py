"""``python -m reports merge DIR DIR ... --out DIR``: one report from separate runs, without re-scoring.

Exits 0 when merged, 2 when the runs cannot be merged honestly (or ``--out`` is not writable or in use by another
run), 7 when the merged report could not be written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.under_test import first_line
from reports.exitcodes import Exit
from reports.files import FolderError, hold_folder
from reports.merge import MergeConflict, merge_folders
from reports.render import write_views
from reports.table import rate_table, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="merge report folders written by separate runs")
    merge.add_argument("folders", nargs="+", type=Path, help="report folders (each with results.json)")
    merge.add_argument("--out", type=Path, required=True, help="folder for the merged report")
    merge.add_argument("--breakdown", action="append", default=[], help="case axis to break rates down by")
    arguments = parser.parse_args(argv)
    try:
        data = merge_folders(arguments.folders)
        held = hold_folder(arguments.out, "--out")
    except (MergeConflict, FileNotFoundError, FolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.BROKEN
    try:
        data.write(arguments.out)
        write_views(data, arguments.out, breakdowns=arguments.breakdown)
    except OSError as error:
        print(f"error: the merged report could not be written to {arguments.out}: {first_line(error)}", file=sys.stderr)
        return Exit.REPORT_NOT_WRITTEN
    finally:
        held.release()
    print(render(rate_table(data)))
    print(f"merged {len(arguments.folders)} runs into {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
