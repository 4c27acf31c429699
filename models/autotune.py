"""Which way of scoring is fastest on this machine, measured on the work itself and remembered per machine and model.

Every way scores the same (each is checked against naive scoring to 1e-5 on tiny models in ``tests/test_scoring.py``,
and within 5e-5 of lm-evaluation-harness on the packaged models by ``benchmarks.scoring``); only the
speed differs, and it differs with the CPU more than with anything else: oneDNN's float32 kernels ran the linear
layers 1.57-1.92x faster than MKL's per token on an AMD EPYC here, but a bare product only 1.27x on an Intel Sapphire
Rapids (issue #11), and whether the prefix
tree's saved tokens outweigh its gathered attention and smaller matrix products depends on the caches and the
kernels. So nothing is assumed: the first scoring call with enough work races the candidates on slices of that work
(``race``; the scores are kept, so only the slower candidates' extra time is spent), and the outcome is stored in
``$SCALECHECK_CACHE/scoring-plans.json`` under the CPU, the thread count, torch's version and the model's shape.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import platform
import tempfile
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import torch

from models.packaged import cache_root
from models.prefix_packing import pack_prefixes

Tokens = tuple[int, ...]
Scores = list[tuple[int, float]]
Candidate = TypeVar("Candidate")

PLANS_FILE = "scoring-plans.json"
PLAN_VERSION = 1
"""Part of every plan's key: a plan written in another format is never read."""
PATHS = ("auto", "tree", "padded")
"""``--scoring-path``: measured, or forced to the prefix tree or to padded batches."""
KERNELS = ("auto", "on", "off")
"""``--onednn``: measured, or forced on or off, for float32 linear layers on a CPU."""
SLICE_TOKENS = 1024
"""Computed tokens per timed slice: a pack of the largest size, or a few padded batches."""
ROUNDS = 2
"""Slices per candidate, in alternating order; the faster slice counts, so a burst of another process's work on a
shared machine does not decide."""
SPREAD = 1.25
"""How far apart one candidate's slices may be for a race's outcome to be remembered."""
PASS_TOKENS = 1024
"""Most cells in a padded batch, whatever its size in inputs: sixteen 800-token prompts in one pass ran 15-20%
slower than one at a time (2-core AMD EPYC), as the activations of 12k rows leave the caches."""
PACK_SIZES = (256, 1024)
BATCH_SIZES = (8, 16)


@dataclass(frozen=True)
class Layout:
    """How inputs are laid out for a forward pass: packs of ``size`` prefix-tree nodes, or padded batches of
    ``size`` inputs."""

    tree: bool
    size: int

    def __str__(self) -> str:
        return f"{'tree' if self.tree else 'padded'}/{self.size}"


def batch_rows(longest: int, batch: int) -> int:
    """Rows of a padded batch whose longest input has ``longest`` tokens: ``batch``, or fewer so the batch holds at
    most ``PASS_TOKENS`` cells."""
    return max(1, min(batch, PASS_TOKENS // longest))


def padded_batches(inputs: Collection[Tokens], batch: int) -> list[tuple[int, int, bool]]:
    """(width, rows, full) of each length-sorted, left-padded batch of up to ``batch`` inputs, as the scorer forms
    them; ``full``: as many rows as ``batch_rows`` allows (the last batch may have fewer)."""
    lengths = sorted((len(row) for row in inputs), reverse=True)
    batches = []
    start = 0
    while start < len(lengths):
        rows = batch_rows(lengths[start], batch)
        batches.append((lengths[start], min(rows, len(lengths) - start), start + rows <= len(lengths)))
        start += rows
    return batches


def padded_cells(inputs: Collection[Tokens], batch: int) -> int:
    """Tokens computed by length-sorted, left-padded batches of up to ``batch`` inputs, padding included."""
    return sum(width * rows for width, rows, _ in padded_batches(inputs, batch))


def layout_cost(layout: Layout, inputs: Collection[Tokens]) -> int:
    """Tokens ``layout`` computes for ``inputs``: tree nodes over its packs, or padded batch cells."""
    if layout.tree:
        return sum(len(pack) for pack in pack_prefixes(inputs, layout.size))
    return padded_cells(inputs, layout.size)


def slice_length(layout: Layout, inputs: Sequence[Tokens]) -> int | None:
    """How many of ``inputs``, from the first, make one timed slice for ``layout``: whole padded batches, or whole
    packs (full but the last, as in a real run), of at least ``SLICE_TOKENS`` computed tokens; None if the inputs
    run out first."""
    if layout.tree:  # inputs in sorted order, as packs take them: the first packs hold the first inputs
        packs = max(1, math.ceil(SLICE_TOKENS / layout.size))
        laid_out = pack_prefixes(inputs, layout.size)
        if len(laid_out) <= packs:
            return None
        return sum(len(pack.paths) for pack in laid_out[:packs])
    for end in range(1, len(inputs) + 1):
        batches = padded_batches(inputs[:end], layout.size)
        if batches[-1][2] and sum(width * rows for width, rows, _ in batches) >= SLICE_TOKENS:
            return end
    return None


def slices(
    candidates: Sequence[Candidate],
    inputs: Sequence[Tokens],
    length: Callable[[Candidate, Sequence[Tokens]], int | None],
    rounds: int = ROUNDS,
) -> list[tuple[Candidate, list[Tokens]]] | None:
    """Consecutive slices of ``inputs``, one per candidate and round in alternating order, each as long as
    ``length`` says for its candidate; None when the inputs run out first (too little work to race)."""
    planned: list[tuple[Candidate, list[Tokens]]] = []
    start = 0
    for number in range(rounds):
        for candidate in candidates if number % 2 == 0 else candidates[::-1]:
            size = length(candidate, inputs[start:])
            if size is None:
                return None
            planned.append((candidate, list(inputs[start : start + size])))
            start += size
    return planned


def race(
    planned: Sequence[tuple[Candidate, Sequence[Tokens]]],
    run: Callable[[Candidate, Sequence[Tokens]], Iterator[Scores]],
    cost: Callable[[Candidate, Sequence[Tokens]], int],
    clock: Callable[[], float],
) -> Generator[Scores, None, dict[Candidate, list[float]]]:
    """Score each slice with its candidate, yielding the scores; return each candidate's seconds per computed
    token, one per slice. Only the candidate's own work is timed, not what the caller does with the scores."""
    rates: dict[Candidate, list[float]] = {}
    for candidate, piece in planned:
        batches = run(candidate, piece)
        seconds = 0.0
        while True:
            started = clock()
            scores = next(batches, None)
            seconds += clock() - started
            if scores is None:
                break
            yield scores
        rates.setdefault(candidate, []).append(seconds / cost(candidate, piece))
    return rates


def best(rates: dict[Candidate, list[float]]) -> dict[Candidate, float]:
    """Each candidate's fastest slice: a slice slowed by another process's burst of work does not decide."""
    return {candidate: min(values) for candidate, values in rates.items()}


def settled(rates: dict[Candidate, list[float]]) -> bool:
    """Whether every candidate's slices agree within ``SPREAD``: if not, the machine's speed moved under the race
    (another process, a 2-thread team waiting for a preempted thread), and the outcome is used for this session
    but not remembered."""
    return all(max(values) <= SPREAD * min(values) for values in rates.values())


def fastest(rates: dict[Candidate, float], work: Callable[[Candidate], int]) -> Candidate:
    """The candidate whose measured seconds per token times the tokens it would compute is least."""
    return min(rates, key=lambda candidate: rates[candidate] * work(candidate))


@cache
def cpu_description() -> dict[str, Any]:
    """What identifies this CPU's speed: vendor, model name and family, and the vector units that matter here."""
    fields: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.split("\n\n", 1)[0].splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    arm = " ".join(f"{name} {fields[name]}" for name in ("CPU part", "CPU variant", "CPU revision") if name in fields)
    return {
        "vendor": fields.get("vendor_id") or fields.get("CPU implementer") or platform.machine(),
        "model": fields.get("model name") or arm or platform.processor() or platform.machine(),
        "family": f"{fields.get('cpu family', '?')}/{fields.get('model', '?')}/{fields.get('stepping', '?')}",
        "avx512": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": "amx_tile" in flags,
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
    }


def cpu_name() -> str:
    """One line for a report: 'AMD EPYC (AuthenticAMD 26/2/1, AVX-512, avx512_bf16, no AMX)'."""
    cpu = cpu_description()
    units = ["AVX-512" if cpu["avx512"] else "no AVX-512"]
    units += ["avx512_bf16"] if cpu["avx512_bf16"] else []
    units += ["AMX" if cpu["amx"] else "no AMX"]
    return f"{cpu['model']} ({cpu['vendor']} {cpu['family']}, {', '.join(units)})"


def plan_key(model: torch.nn.Module) -> str:
    """The CPU, the threads, torch's version and the model's shape (class, config, dtype): what a plan's speed
    depends on. Not its weights or tokenizer, which the score cache's fingerprint hashes (seconds for Gemma's
    262k-token vocabulary) and which change no timing."""
    config = getattr(model, "config", None)
    shape = json.dumps(
        {
            "class": type(model).__name__,
            "config": config.to_dict() if config is not None else None,
            "dtype": str(getattr(model, "dtype", None)),
        },
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(shape.encode()).hexdigest()[:16]
    capability = cpu_description()["torch_capability"]
    return (
        f"plan v{PLAN_VERSION} | {cpu_name()} | {torch.get_num_threads()} threads | torch {torch.__version__} "
        f"({capability}) | {type(model).__name__} {digest}"
    )


def rates_of(value: Any) -> dict[str, float] | None:
    """Seconds per token by candidate, if ``value`` is one (a JSON object of finite positive numbers), else None:
    a plan file is read back from disk, and an edited or damaged one must not decide anything."""
    if not isinstance(value, dict) or not value:
        return None
    rates = {}
    for name, rate in value.items():
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate <= 0:
            return None
        rates[str(name)] = float(rate)
    return rates


def size_of(value: Any) -> int | None:
    """A pack or batch size read back from a plan file, if it is a positive integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def plans_path() -> Path:
    """Where plans are remembered: beside the score cache."""
    return cache_root() / PLANS_FILE


class PlanStore:
    """Remembered plans, one JSON object keyed by ``plan_key``; written whole and atomically (a temporary file in
    the same directory, then ``os.replace``), so concurrent sessions never read half a file, and each update reads
    and replaces the file under an exclusive lock, so two sessions' updates do not overwrite each other."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or plans_path()

    def __repr__(self) -> str:
        return f"PlanStore({str(self.path)!r})"

    def _read(self) -> dict[str, Any]:
        try:
            content = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return content if isinstance(content, dict) else {}

    def get(self, key: str) -> dict[str, Any]:
        entry = self._read().get(key)
        return dict(entry) if isinstance(entry, dict) else {}

    def update(self, key: str, **fields: Any) -> None:
        """Merge ``fields`` into the entry under ``key`` and write the file (readable by all, as the cache is)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            content = self._read()
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            content[key] = {**content.get(key, {}), **fields, "updated": stamp}
            handle, scratch = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                with os.fdopen(handle, "w") as file:
                    json.dump(content, file, indent=2, sort_keys=True)
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(scratch, 0o666 & ~umask)
                os.replace(scratch, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(scratch).unlink()
                raise
