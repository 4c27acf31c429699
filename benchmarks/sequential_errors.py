"""Error rates and case counts of the sequential stopping rules (runner/sequential.py), by simulation: issue #12.

    python -m benchmarks.sequential_errors                    # 10,000 runs per setting, seed 0, blocks of 20
    python -m benchmarks.sequential_errors --runs 1000 --caps 200

Scripted models with known true rates answer one seeded stream of cases each run; every run is stopped exactly as
``RateSequence`` / ``PairedSequence`` / ``GateSequence`` stop it (``batch_decisions`` shares their code), after
every block of ``--block`` cases, up to the cap. A verdict is wrong when it is on the wrong side of the truth:
for the bar, "above" at a true rate < bar, "below" at a rate > bar, and either one at a rate equal to the bar; for
the gate (tolerance 0), "regression" at drop 0 and "no regression" at a drop > 0; for the two-sided paired test,
either verdict at drop 0 and "better" at a drop > 0. Each share comes with its 95% Wilson interval over the runs.

Paired models: the baseline passes each case with probability 0.5; the new model answers as the baseline except
that it fails a share ``churn + drop`` of all cases the baseline passes and passes a share ``churn`` of all cases
the baseline fails, so its pass rate is lower by ``drop`` and the two disagree on 2 churn + drop of the cases.

Finite case sets: ``runner/sampling.py`` draws each case once, so a stream is also simulated as the first cases of
a random order of a set of 200 or 1,000 cases whose pass rate is exactly the stated one.

The fixed design, for context, scores all ``cap`` cases and decides as the report does today: the bar by the 95%
Wilson interval excluding it (computed exactly from the binomial), the gate by the exact McNemar test at 0.05.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from reports.stats import mcnemar_exact, wilson_interval
from runner.sequential import batch_decisions

BAR = 0.5
RATES = (0.1, 0.3, 0.45, 0.5, 0.55, 0.7, 0.9)
DROPS = (0.0, 0.05, 0.15)
CHURNS = (0.05, 0.15)
POPULATIONS = (200, 1000)  # finite case sets, as runner/sampling.py draws them: each case once
BASELINE_RATE = 0.5
CHUNK = 2000  # runs simulated at once: bounds memory at cap 500

# The default offline run's rates and caps (README: pytest behaviours/, every behaviour at its default count).
OFFLINE = {
    "hindsight_neglect": ((0.37, 0.48), 100),
    "memo_trap": ((0.04, 0.01), 200),
    "modus_tollens": ((0.32, 1.00), 200),
    "negated_qa": ((0.47, 0.46), 200),
    "redefine_math": ((0.46, 0.50), 199),
    "repetition_suppression": ((0.10, 0.01), 200),
    "repetition_suppression_cycles": ((0.01, 0.01), 200),
    "repetition_suppression_few_shot": ((0.28, 0.15), 200),
    "sig_figs": ((0.48, 0.49), 200),
}


@dataclass(frozen=True)
class Outcome:
    """Per-run verdict signs (+1 above / no regression / better, -1 below / regression / worse, 0 undecided) and n."""

    sign: npt.NDArray[np.int8]
    n: npt.NDArray[np.int64]


def share(hits: int, runs: int) -> str:
    low, high = wilson_interval(hits, runs)
    return f"{hits / runs:.4f} [{low:.4f}, {high:.4f}]"


def simulate(
    draw: Callable[[np.random.Generator, int, int], npt.NDArray[np.float64]],
    null: float,
    alphas: tuple[float, float],
    *,
    runs: int,
    cap: int,
    block: int,
    rng: np.random.Generator,
) -> Outcome:
    """``runs`` streams of ``cap`` values from ``draw``, in chunks, each decided as the sequences decide."""
    signs, ns = [], []
    for size in chunks(runs):
        sign, n = batch_decisions(draw(rng, size, cap), null, alpha_up=alphas[0], alpha_down=alphas[1], block=block)
        signs.append(sign)
        ns.append(n)
    return Outcome(np.concatenate(signs), np.concatenate(ns))


def chunks(runs: int) -> Iterator[int]:
    for start in range(0, runs, CHUNK):
        yield min(CHUNK, runs - start)


def bernoulli(rate: float) -> Callable[[np.random.Generator, int, int], npt.NDArray[np.float64]]:
    return lambda rng, size, cap: (rng.random((size, cap)) < rate).astype(float)


def without_replacement(
    rate: float, population: int
) -> Callable[[np.random.Generator, int, int], npt.NDArray[np.float64]]:
    """The first ``cap`` cases of a random order of a finite case set whose pass rate is exactly ``rate``."""
    cases = (np.arange(population) < round(rate * population)).astype(float)
    return lambda rng, size, cap: rng.permuted(np.tile(cases, (size, 1)), axis=1)[:, :cap]


def paired(drop: float, churn: float) -> Callable[[np.random.Generator, int, int], npt.NDArray[np.float64]]:
    """(d + 1) / 2 for d = new - baseline, from correlated pass/fail pairs as the module docstring describes."""

    def draw(rng: np.random.Generator, size: int, cap: int) -> npt.NDArray[np.float64]:
        baseline = rng.random((size, cap)) < BASELINE_RATE
        flip = rng.random((size, cap))
        lose, gain = (churn + drop) / BASELINE_RATE, churn / (1 - BASELINE_RATE)
        new = np.where(baseline, flip >= lose, flip < gain)
        return (new.astype(float) - baseline + 1) / 2

    return draw


def fixed_bar(rate: float, cap: int) -> tuple[float, float]:
    """Exact chances that the fixed design's 95% Wilson interval lies wholly above / below the bar."""
    above = below = 0.0
    for passed in range(cap + 1):
        chance = math.comb(cap, passed) * rate**passed * (1 - rate) ** (cap - passed)
        low, high = wilson_interval(passed, cap)
        above += chance if low > BAR else 0.0
        below += chance if high < BAR else 0.0
    return above, below


@cache
def mcnemar(lost: int, gained: int) -> float:
    return mcnemar_exact(lost, gained)


def fixed_gate(drop: float, churn: float, cap: int, runs: int, rng: np.random.Generator) -> tuple[float, float]:
    """Shares of runs the fixed gate calls a regression / an improvement (exact McNemar at 0.05 on all cap cases)."""
    regression = improvement = 0
    for size in chunks(runs):
        values = paired(drop, churn)(rng, size, cap)
        for lost, gained in zip((values == 0).sum(axis=1), (values == 1).sum(axis=1), strict=True):
            if mcnemar(int(lost), int(gained)) < 0.05 and lost != gained:
                regression += int(lost > gained)
                improvement += int(gained > lost)
    return regression / runs, improvement / runs


def bar_table(runs: int, caps: list[int], block: int, confidence: float, rng: np.random.Generator) -> None:
    half = (1 - confidence) / 2
    print(f"\n### Pass rate against a bar of {BAR} ({confidence:g} confidence, {half:g} per direction)\n")
    print(
        "| true rate | cap | wrong verdict [95% CI] | right verdict | undecided at cap | mean n | median n "
        "| n saved | fixed: decided right | fixed: wrong |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for cap in caps:
        for rate in RATES:
            out = simulate(bernoulli(rate), BAR, (half, half), runs=runs, cap=cap, block=block, rng=rng)
            wrong = out.sign != 0 if rate == BAR else out.sign == (1 if rate < BAR else -1)
            right = np.zeros(runs, bool) if rate == BAR else out.sign == (1 if rate > BAR else -1)
            above, below = fixed_bar(rate, cap)
            fixed_right = 0.0 if rate == BAR else (above if rate > BAR else below)
            fixed_wrong = above + below if rate == BAR else (below if rate > BAR else above)
            print(
                f"| {rate:g} | {cap} | {share(int(wrong.sum()), runs)} | {right.mean():.4f} | "
                f"{(out.sign == 0).mean():.4f} | {out.n.mean():.1f} | {np.median(out.n):.0f} | "
                f"{1 - out.n.mean() / cap:.0%} | {fixed_right:.4f} | {fixed_wrong:.4f} |"
            )


def finite_table(runs: int, block: int, confidence: float, rng: np.random.Generator) -> None:
    half = (1 - confidence) / 2
    cap = 200
    print(f"\n### Finite case sets drawn without replacement (cap {cap}, bar {BAR})\n")
    print("| cases in the set | rate of the set | wrong verdict [95% CI] | right verdict | undecided at cap | mean n |")
    print("|---|---|---|---|---|---|")
    for population in POPULATIONS:
        for rate in (0.45, 0.5, 0.7):
            out = simulate(
                without_replacement(rate, population), BAR, (half, half), runs=runs, cap=cap, block=block, rng=rng
            )
            wrong = out.sign != 0 if rate == BAR else out.sign == (1 if rate < BAR else -1)
            right = np.zeros(runs, bool) if rate == BAR else out.sign == (1 if rate > BAR else -1)
            print(
                f"| {population} | {rate:g} | {share(int(wrong.sum()), runs)} | {right.mean():.4f} | "
                f"{(out.sign == 0).mean():.4f} | {out.n.mean():.1f} |"
            )


def paired_tables(runs: int, caps: list[int], block: int, alpha: float, rng: np.random.Generator) -> None:
    print(
        f"\n### Regression gate (tolerance 0, alpha {alpha:g} each way) and two-sided paired test "
        f"(alpha {alpha:g}, {alpha / 2:g} per direction)\n"
    )
    print(
        "| drop | churn | cap | gate: wrong [95% CI] | gate: regression | gate: undecided | gate: mean n "
        "| fixed gate: regression | paired: wrong [95% CI] | paired: undecided | paired: mean n |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for cap in caps:
        for churn in CHURNS:
            for drop in DROPS:
                gate = simulate(paired(drop, churn), 0.5, (alpha, alpha), runs=runs, cap=cap, block=block, rng=rng)
                two = simulate(
                    paired(drop, churn), 0.5, (alpha / 2, alpha / 2), runs=runs, cap=cap, block=block, rng=rng
                )
                gate_wrong = gate.sign == (-1 if drop == 0 else 1)
                two_wrong = two.sign != 0 if drop == 0 else two.sign == 1
                fixed_regression, _ = fixed_gate(drop, churn, cap, runs, rng)
                print(
                    f"| {drop:g} | {churn:g} | {cap} | {share(int(gate_wrong.sum()), runs)} | "
                    f"{(gate.sign == -1).mean():.4f} | {(gate.sign == 0).mean():.4f} | {gate.n.mean():.1f} | "
                    f"{fixed_regression:.4f} | {share(int(two_wrong.sum()), runs)} | {(two.sign == 0).mean():.4f} | "
                    f"{two.n.mean():.1f} |"
                )


def offline_projection(runs: int, block: int, confidence: float, rng: np.random.Generator) -> None:
    half = (1 - confidence) / 2
    print("\n### The default offline run's cells, bar verdicts only (expected n at each measured rate)\n")
    print("| behaviour | rates | cap | expected n per size | fixed n |")
    print("|---|---|---|---|---|")
    sequential = fixed = 0.0
    for behaviour, (rates, cap) in OFFLINE.items():
        means = [
            simulate(bernoulli(rate), BAR, (half, half), runs=runs, cap=cap, block=block, rng=rng).n.mean()
            for rate in rates
        ]
        sequential += sum(means)
        fixed += cap * len(rates)
        shown = ", ".join(f"{mean:.0f}" for mean in means)
        print(f"| {behaviour} | {', '.join(f'{r:g}' for r in rates)} | {cap} | {shown} | {cap * len(rates)} |")
    print(f"| total | | | {sequential:.0f} | {fixed:.0f} ({1 - sequential / fixed:.0%} fewer) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000, help="simulated runs per setting (default 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--block", type=int, default=20, help="cases scored between looks (default 20)")
    parser.add_argument("--caps", default="200,500", help="comma-separated caps (default 200,500)")
    parser.add_argument("--confidence", type=float, default=0.95)
    args = parser.parse_args()
    caps = [int(cap) for cap in args.caps.split(",")]
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(
        f"runs per setting {args.runs:,}, seed {args.seed}, blocks of {args.block}, caps {caps}, "
        f"confidence {args.confidence:g}, numpy {np.__version__}"
    )
    bar_table(args.runs, caps, args.block, args.confidence, rng)
    finite_table(args.runs, args.block, args.confidence, rng)
    paired_tables(args.runs, caps, args.block, 1 - args.confidence, rng)
    offline_projection(args.runs, args.block, args.confidence, rng)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
