"""When one behaviour x model may stop scoring: its bar, its pairs with the sizes already run, and the gate.

The plugin scores a behaviour's shared case stream (the same cases, in the same order, for every size) block by
block and feeds each block's outcomes to a ``SizeStopping``. The size stops once every verdict it owes is certain,
or at the cap (the stream's end):

(a) its bar: a ``RateSequence`` against the required rate at ``confidence``;
(b) each size already run for the behaviour: a ``PairedSequence`` on the cases both scored, in stream order, at
    ``pair_alpha``, the level the trend rule will test the pair at (``reports.stats.pair_stopping_alpha``); a pair
    is also done once this size has scored past the earlier size's last case, since that model is no longer in
    memory and no shared case can come;
(c) with a baseline: a ``GateSequence`` against the baseline model's outcomes (paired by case key), or done once
    every baseline case has come by.

Every sequence is anytime-valid (``runner.sequential``), so looking after every block costs no error. Only when to
stop depends on (b) and (c)'s alphas; the verdicts are made from the data afterwards (``reports.stats``,
``reports.gate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.sequential import Decision, GateSequence, PairedSequence, RateSequence, Stop

BLOCK = 20
"""Cases scored between two looks: small enough that a clear verdict costs one block (20 of the usual 200 cases),
large enough that a block is still one batched, prefix-sharing call to the model."""

RULE = "sequential"

Outcome = tuple[str, bool | None]
"""A scored example of the stream: its case key and whether it passed (None: scored but not judged, e.g. too long)."""


@dataclass(frozen=True)
class SizeOutcomes:
    """What a finished size leaves for the later sizes' pairs: its outcomes by case key, in stream order, and how
    many examples of the stream it went through."""

    model: str
    outcomes: Mapping[str, bool]
    through: int


@dataclass
class _Pair:
    """This size against one earlier size, on the cases both scored."""

    earlier: SizeOutcomes
    sequence: PairedSequence
    exhausted: bool = False

    def feed(self, block: Sequence[Outcome], through: int) -> None:
        if not self.sequence.decision.done:
            shared = [
                (self.earlier.outcomes[key], passed)
                for key, passed in block
                if passed is not None and key in self.earlier.outcomes
            ][: self.sequence.remaining]
            if shared:
                self.sequence.feed([first for first, _ in shared], [second for _, second in shared])
        self.exhausted = through >= self.earlier.through

    @property
    def decided(self) -> bool:
        return self.sequence.decision.verdict != "undecided"

    def record(self, cap: int) -> dict[str, Any]:
        """The pair's decision; undecided, it stopped at the "cap" (both sizes scored the whole stream) or
        "exhausted" (the earlier size had stopped: no more shared cases)."""
        stopped = "decided" if self.decided else ("cap" if self.earlier.through >= cap else "exhausted")
        return {"against": self.earlier.model, **self.sequence.decision.as_record(), "stopped": stopped}


@dataclass
class _Gate:
    """This size against its baseline model, paired by case key."""

    baseline: Mapping[str, bool]
    sequence: GateSequence
    seen: set[str] = field(default_factory=set)

    def feed(self, block: Sequence[Outcome]) -> None:
        self.seen.update(key for key, _ in block if key in self.baseline)
        if self.sequence.decision.done:
            return
        shared = [(self.baseline[key], passed) for key, passed in block if passed is not None and key in self.baseline]
        shared = shared[: self.sequence.remaining]
        if shared:
            self.sequence.feed([before for before, _ in shared], [now for _, now in shared])

    @property
    def exhausted(self) -> bool:
        return len(self.seen) == len(self.baseline)

    @property
    def decided(self) -> bool:
        return self.sequence.decision.verdict != "undecided"

    def record(self) -> dict[str, Any]:
        """The gate's decision; undecided, it stopped at the "cap" or "exhausted" (every baseline case came by)."""
        stopped = "decided" if self.decided else ("exhausted" if self.exhausted else "cap")
        return {**self.sequence.decision.as_record(), "stopped": stopped}


class SizeStopping:
    """Whether one behaviour x model may stop, fed block by block in stream order; ``record()`` is what
    results.json keeps of it."""

    def __init__(
        self,
        *,
        bar: float,
        confidence: float,
        cap: int,
        earlier: Sequence[SizeOutcomes] = (),
        pair_alpha: float = 0.05,
        baseline: Mapping[str, bool] | None = None,
        gate_alpha: float = 0.05,
        gate_tolerance: float = 0.0,
    ) -> None:
        self.confidence, self.cap = confidence, cap
        self.bar = RateSequence(bar, confidence=confidence, cap=cap)
        self.pairs = [
            _Pair(size, PairedSequence(alpha=pair_alpha, cap=len(size.outcomes))) for size in earlier if size.outcomes
        ]
        self.gate = (
            _Gate(dict(baseline), GateSequence(alpha=gate_alpha, tolerance=gate_tolerance, cap=len(baseline)))
            if baseline
            else None
        )
        self.n = 0
        self.through = 0
        self.blocks: list[int] = []

    def feed(self, block: Sequence[Outcome], *, through: int) -> None:
        """Take the next block: its scored examples in stream order, and how many examples of the stream have
        been run so far (``through``; more than were scored when the body rejected some)."""
        judged = [passed for _, passed in block if passed is not None]
        if judged and not self.bar.decision.done:
            self.bar.feed(judged[: self.bar.remaining])
        for pair in self.pairs:
            pair.feed(block, through)
        if self.gate is not None:
            self.gate.feed(block)
        self.n += len(judged)
        self.through = through
        self.blocks.append(self.n)

    @property
    def done(self) -> bool:
        """Every verdict this size owes is decided, or (a pair, the gate) can get no more shared cases."""
        gate = self.gate is None or self.gate.decided or self.gate.exhausted
        pairs = all(pair.decided or pair.exhausted for pair in self.pairs)
        return self.bar.decision.verdict != "undecided" and pairs and gate

    @property
    def stopped(self) -> Stop:
        """Why scoring ended: "decided" (``done``), else "cap" (the stream ran out first)."""
        return "decided" if self.done else "cap"

    def describe(self, *, final: bool) -> str:
        """One progress line: n, each decision so far, and (``final``) why scoring stopped."""
        bar = self.bar.decision
        parts = [f"bar {bar.verdict}" + (f" at n={bar.n}" if bar.verdict != "undecided" else "")]
        parts += [
            f"vs {pair.earlier.model} {pair.sequence.decision.verdict}"
            + (" (no more shared cases)" if pair.exhausted and not pair.decided else "")
            for pair in self.pairs
        ]
        if self.gate is not None:
            parts.append(f"gate {self.gate.sequence.decision.verdict}")
        return f"n={self.n}: {', '.join(parts)}" + (f"; stopped: {self.stopped}" if final else "")

    @property
    def gate_decision(self) -> Decision | None:
        return None if self.gate is None else self.gate.sequence.decision

    def record(self) -> dict[str, Any]:
        """The stopping rule, the blocks (cumulative n after each), why it stopped, and every decision with its
        final interval: plain JSON data."""
        return {
            "rule": RULE,
            "block": BLOCK,
            "confidence": self.confidence,
            "cap": self.cap,
            "through": self.through,
            "blocks": list(self.blocks),
            "stopped": self.stopped,
            "bar": self.bar.decision.as_record(),
            "pairs": [pair.record(self.cap) for pair in self.pairs],
            "gate": None if self.gate is None else self.gate.record(),
        }
