"""What sequential stopping would have scored on a fixed run, replayed from that run's results: issue #12.

    python -m benchmarks.sequential_replay scalecheck-report      # the report folder of a fixed run

A sequential run scores each behaviour's seeded stream in blocks of ``runner.stopping.BLOCK``, in the order a fixed
run draws it, so a fixed run's per-case outcomes (``results.json`` ``verdicts``, in stream order) are exactly what
a sequential run of the same commit, seed and cap sees: the replay needs no model. It replays two rules on them:

(a) ``--sequential`` as built: ``runner.stopping.SizeStopping`` block by block, size after size; a pair of sizes is
    done when decided or when the earlier size has stopped (no more shared cases can come).
(b) issue #12's criterion 2 taken literally: a size keeps drawing until its bar and its pairs with the other sizes
    are decided or the cap is reached, an earlier size being scored further once the later one is known. The pair
    test is a hybrid that can match a fixed run's trends: the anytime-valid paired test at half the pair's level,
    plus one exact McNemar test with the other half when both sizes reached the cap. Each size's n is counted as
    the least this rule needs: the block at which its bar decided, or any of its pairs did, whichever is last
    (a real run would score more: a later size cannot know when a pair with an earlier, stopped size would decide).

It prints each behaviour x size's n, pass/fail and why it stopped under the fixed run, (a) and (b), each
behaviour's trend under the three, and the examples each scored.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.stats import (
    Comparison,
    Outcomes,
    compare_anytime,
    compare_paired,
    pair_stopping_alpha,
    trend_verdicts,
)
from runner.sequential import PairedSequence, RateSequence
from runner.stopping import BLOCK, SizeOutcomes, SizeStopping

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Cell:
    """One behaviour x size of the fixed run: its required rate and its outcomes in stream order."""

    behaviour: str
    model: str
    bar: float
    keys: tuple[str, ...]
    passed: tuple[bool | None, ...]


@dataclass(frozen=True)
class Stop:
    """Where a rule stopped a cell: examples of the stream run through, judged examples among them, pass/fail."""

    through: int
    n: int
    passes: bool
    why: str


class Reached(list[bool | None]):
    """A size's outcomes over the whole stream, None past where it stopped; ``whole`` if it ran the stream to the
    end, which the hybrid test needs for its fixed-n part."""

    def __init__(self, outcomes: Sequence[bool | None], whole: bool) -> None:
        super().__init__(outcomes)
        self.whole = whole


def read_cells(folder: Path) -> list[Cell]:
    """The fixed run's cells, behaviour by behaviour in the order of its results, each size's outcomes in order."""
    path = folder / "results.json"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: give the report folder of a fixed run (pytest's --report-dir)")
    data = json.loads(path.read_text())
    if (data["run"].get("stopping") or {}).get("mode", "fixed") != "fixed":
        raise SystemExit(f"{folder} holds a sequential run: replay a fixed run (without --sequential)")
    cells = []
    for row in data["results"]:
        if row["status"] not in ("passed", "failed"):
            raise SystemExit(f"{folder}: {row['behaviour']} on {row['model']} is {row['status']}: replay a whole run")
        records = data["verdicts"][row["nodeid"]]
        if len(records) != row["examples"]:
            raise SystemExit(
                f"{folder}: {row['behaviour']} on {row['model']} recorded {len(records)} of its {row['examples']} "
                "examples (its test body rejected some), so its records cannot be placed in the stream: not replayable"
            )
        cells.append(
            Cell(
                behaviour=row["behaviour"],
                model=row["model"],
                bar=float(row["required_rate"]),
                keys=tuple(str(record["case_id"]) for record in records),
                passed=tuple(None if record["passed"] is None else bool(record["passed"]) for record in records),
            )
        )
    return cells


def by_behaviour(cells: Sequence[Cell]) -> dict[str, list[Cell]]:
    """Each behaviour's cells in size order; every size must have been asked the same stream."""
    grouped: dict[str, list[Cell]] = {}
    for cell in cells:
        grouped.setdefault(cell.behaviour, []).append(cell)
    for behaviour, sizes in grouped.items():
        if len({cell.keys for cell in sizes}) != 1:
            raise SystemExit(f"{behaviour}: the sizes were not asked the same cases in the same order")
    return grouped


def point_passes(answered: Sequence[bool], bar: float) -> bool:
    """Pass/fail by the point estimate, as a fixed run judges (and a sequential run undecided at its cap)."""
    return bool(answered) and sum(answered) / len(answered) >= bar


def stop_at(cell: Cell, through: int, verdict: str, why: str) -> Stop:
    """The cell run through ``through`` cases: pass/fail by its bar verdict, else by the point estimate."""
    answered = [passed for passed in cell.passed[:through] if passed is not None]
    passes = verdict == "above" if verdict != "undecided" else point_passes(answered, cell.bar)
    return Stop(through, len(answered), passes, "undecided at cap" if verdict == "undecided" else why)


def fixed_stop(cell: Cell) -> Stop:
    answered = [passed for passed in cell.passed if passed is not None]
    return Stop(len(cell.passed), len(answered), point_passes(answered, cell.bar), "fixed")


def replay_built(sizes: Sequence[Cell], pair_alpha: float) -> list[Stop]:
    """Rule (a): ``SizeStopping`` exactly as the plugin feeds it, size after size."""
    stops: list[Stop] = []
    earlier: list[SizeOutcomes] = []
    for cell in sizes:
        length = len(cell.passed)
        stopping = SizeStopping(bar=cell.bar, confidence=CONFIDENCE, cap=length, earlier=earlier, pair_alpha=pair_alpha)
        through = 0
        while through < length and not stopping.done:
            block = list(zip(cell.keys[through : through + BLOCK], cell.passed[through : through + BLOCK], strict=True))
            through = min(through + BLOCK, length)
            stopping.feed(block, through=through)
        stops.append(stop_at(cell, through, stopping.bar.decision.verdict, stopping.stopped))
        outcomes = zip(cell.keys[:through], cell.passed[:through], strict=True)
        earlier.append(
            SizeOutcomes(cell.model, {key: passed for key, passed in outcomes if passed is not None}, through)
        )
    return stops


def decided_at(length: int, sequence: RateSequence | PairedSequence, feed: Callable[[int, int], None]) -> int:
    """The first block end at which ``sequence``, fed each block's cases by ``feed(start, end)``, has a verdict; the
    stream's end if it never has."""
    for through in range(BLOCK, length + BLOCK, BLOCK):
        if not sequence.decision.done:
            feed(through - BLOCK, min(through, length))
        if sequence.decision.verdict != "undecided":
            return min(through, length)
    return length


def bar_decided_at(cell: Cell) -> tuple[int, str]:
    """The first block end at which the bar is decided, and the verdict; the stream's end and "undecided" if never."""
    answered = [passed for passed in cell.passed if passed is not None]
    sequence = RateSequence(cell.bar, confidence=CONFIDENCE, cap=max(1, len(answered)))

    def feed(start: int, end: int) -> None:
        block = [passed for passed in cell.passed[start:end] if passed is not None]
        if block:
            sequence.feed(block)

    return decided_at(len(cell.passed), sequence, feed), sequence.decision.verdict


def pair_decided_at(first: Cell, second: Cell, alpha: float) -> int:
    """The first block end at which the anytime-valid pair test at ``alpha`` decides; the stream's end if never."""
    shared = [(a, b) for a, b in zip(first.passed, second.passed, strict=True) if a is not None and b is not None]
    sequence = PairedSequence(alpha=alpha, cap=max(1, len(shared)))

    def feed(start: int, end: int) -> None:
        pairs = zip(first.passed[start:end], second.passed[start:end], strict=True)
        block = [(a, b) for a, b in pairs if a is not None and b is not None]
        if block:
            sequence.feed([a for a, _ in block], [b for _, b in block])

    return decided_at(len(first.passed), sequence, feed)


def replay_literal(sizes: Sequence[Cell], pair_alpha: float) -> list[Stop]:
    """Rule (b): each size runs until its bar and every pair it is in have decided (pairs at half the level)."""
    needed = [bar_decided_at(cell) for cell in sizes]
    through = [at for at, _ in needed]
    for i in range(len(sizes)):
        for j in range(i + 1, len(sizes)):
            at = pair_decided_at(sizes[i], sizes[j], pair_alpha / 2)
            through[i], through[j] = max(through[i], at), max(through[j], at)
    return [
        stop_at(cell, at, verdict, "decided" if at < len(cell.passed) else "cap")
        for cell, (_, verdict), at in zip(sizes, needed, through, strict=True)
    ]


def compare_hybrid(first: Outcomes, second: Outcomes) -> Comparison:
    """Anytime-valid at half the level, or exact McNemar at the cap with the other half: the p-value is twice the
    smaller of the two, the McNemar one only when both sizes ran the whole stream (its n fixed in advance)."""
    anytime = compare_anytime(first, second)
    whole = getattr(first, "whole", False) and getattr(second, "whole", False)
    fixed = compare_paired(first, second) if whole else None
    if fixed is not None and fixed.p_value < anytime.p_value:
        return Comparison(fixed.difference, min(1.0, 2 * fixed.p_value), fixed.direction)
    return Comparison(anytime.difference, min(1.0, 2 * anytime.p_value), anytime.direction)


def reached(cell: Cell, stop: Stop) -> Reached:
    length = len(cell.passed)
    return Reached([*cell.passed[: stop.through], *[None] * (length - stop.through)], stop.through == length)


def replay(folder: Path) -> dict[str, Any]:
    """Every cell's stop and every behaviour's trend under the fixed run, rule (a) and rule (b)."""
    grouped = by_behaviour(read_cells(folder))
    rules: dict[str, dict[str, list[Stop]]] = {"fixed": {}, "built": {}, "literal": {}}
    for behaviour, sizes in grouped.items():
        alpha = pair_stopping_alpha(sizes=len(sizes), behaviours=len(grouped))
        rules["fixed"][behaviour] = [fixed_stop(cell) for cell in sizes]
        rules["built"][behaviour] = replay_built(sizes, alpha)
        rules["literal"][behaviour] = replay_literal(sizes, alpha)
    tests = {"fixed": compare_paired, "built": compare_anytime, "literal": compare_hybrid}
    trends = {
        rule: dict(
            zip(
                grouped,
                trend_verdicts(
                    [
                        [reached(cell, stop) for cell, stop in zip(sizes, stops[behaviour], strict=True)]
                        for behaviour, sizes in grouped.items()
                    ],
                    compare=tests[rule],
                ),
                strict=True,
            )
        )
        for rule, stops in rules.items()
    }
    return {"cells": grouped, "stops": rules, "trends": trends}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the report folder of a fixed run (results.json)")
    args = parser.parse_args(argv)
    result = replay(args.folder)
    stops, trends = result["stops"], result["trends"]
    names = {"fixed": "fixed run", "built": "(a) --sequential as built", "literal": "(b) criterion 2 literally"}
    print("| behaviour | size | " + " | ".join(names.values()) + " |")
    print("|---|---|---|---|---|")
    for behaviour, sizes in result["cells"].items():
        for index, cell in enumerate(sizes):
            parts = []
            for rule in names:
                stop = stops[rule][behaviour][index]
                parts.append(f"{stop.n}, {'pass' if stop.passes else 'fail'}, {stop.why}")
            print(f"| {behaviour} | {cell.model} | " + " | ".join(parts) + " |")
        print(f"| {behaviour} | trend | " + " | ".join(trends[rule][behaviour] for rule in names) + " |")
    totals = {rule: sum(stop.n for cells in stops[rule].values() for stop in cells) for rule in names}
    print(
        "| scored examples | | "
        + " | ".join(f"{totals[rule]:,} ({1 - totals[rule] / totals['fixed']:.1%} fewer)" for rule in names)
        + " |"
    )
    for rule in ("built", "literal"):
        same = all(
            mine.passes == fixed.passes or mine.why == "undecided at cap"
            for behaviour in stops["fixed"]
            for mine, fixed in zip(stops[rule][behaviour], stops["fixed"][behaviour], strict=True)
        )
        lost = [behaviour for behaviour in trends["fixed"] if trends[rule][behaviour] != trends["fixed"][behaviour]]
        print(
            f"{names[rule]}: pass/fail {'as the fixed run' if same else 'DIFFERS from the fixed run'}; "
            f"trends differing from the fixed run: {', '.join(lost) or 'none'}"
        )


if __name__ == "__main__":
    main()
