"""What a run's exit code tells CI: one table (the README's *Exit codes* is this table), and the rule that picks one.

pytest's own codes stand for what pytest decides (an interrupt, a usage error, nothing collected). Once the items
have run, a regression or a missed bar (1) is kept apart from faults that say nothing about the model's
behaviour: a behaviour that could not run on its own data or code (2, like a file that fails to collect), a model
that could not be loaded or failed while scoring (6), a report that could not be written (7).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

ERROR_KIND = "error_kind"
"""The user property on an errored item's report that says whose error it is: ``model`` or ``behaviour``."""


class Exit(IntEnum):
    OK = 0
    BELOW_BAR = 1
    BROKEN = 2
    INTERNAL = 3
    USAGE = 4
    NOTHING_SELECTED = 5
    MODEL_FAILED = 6
    REPORT_NOT_WRITTEN = 7


MEANING = {
    Exit.OK: "every behaviour met its required rate (with --compare: no regression)",
    Exit.BELOW_BAR: "some behaviour fell below its required rate, or regressed against the baseline",
    Exit.BROKEN: "interrupted, a behaviour file failed to collect, or a behaviour errored on its own data or code "
    "(a strategy that cannot draw, a case with nothing to score, a test body raising something other than a "
    "failed assertion)",
    Exit.INTERNAL: "internal error (a bug in scalecheck or a plugin)",
    Exit.USAGE: "usage error, before any model loads: unknown family or size, missing checkpoint or baseline, bad "
    "option value, a report folder that cannot be written or is in use, an option pytest-xdist workers cannot run",
    Exit.NOTHING_SELECTED: "no behaviour was selected",
    Exit.MODEL_FAILED: "a model could not be loaded (or failed while scoring): its items errored (the cause is in "
    "results.json) and the other sizes ran",
    Exit.REPORT_NOT_WRITTEN: "the report (or the baseline being saved) could not be written",
}


def exit_code(pytest_status: int, *, errors: Iterable[str | None], report_written: bool) -> int:
    """The run's code: pytest's when pytest decided (3, 4, 5, or a plugin's own); else the first that applies of
    7 (report not written), 2 (interrupted, collection error, or an item error that is not the model's), 6 (a model
    did not load or failed while scoring), then pytest's 0 or 1. ``errors``: the ``error_kind`` of each errored item."""
    if pytest_status not in (Exit.OK, Exit.BELOW_BAR, Exit.BROKEN):
        return pytest_status
    status = Exit(pytest_status)
    if not report_written:
        return Exit.REPORT_NOT_WRITTEN
    kinds = set(errors)
    if status == Exit.BROKEN or kinds - {"model"}:
        return Exit.BROKEN
    if "model" in kinds:
        return Exit.MODEL_FAILED
    return status
