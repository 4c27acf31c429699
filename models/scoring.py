"""Batched log-likelihood of continuations for a transformers causal LM.

Scores are exact: the token boundary follows lm-evaluation-harness' HFLM ``_encode_pair`` (so numbers are
comparable with published evaluations), and batching, left padding and sharing one forward pass between
requests with identical inputs give the same values as scoring one unpadded request at a time.

On a CPU the work is compute-bound, so the scorer computes as few tokens as it can: the distinct inputs are laid
out as a prefix tree (``models.prefix_packing``), so every token shared by several prompts is computed once, and
the LM head runs only where a continuation token is scored, for many forward passes at once (``HeadQueue``).
Models for which that layout cannot be checked to give the same numbers fall back to length-sorted, left-padded
batches. Whether the tree pays, with which kernels and at what pack and batch size, depends on the CPU: it is
measured on the machine, on the work itself, and remembered (``models.autotune``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from models import autotune
from models.autotune import (
    KERNELS,
    PATHS,
    Candidate,
    Layout,
    PlanStore,
    batch_rows,
    best,
    cpu_name,
    fastest,
    layout_cost,
    plan_key,
    race,
    rates_of,
    settled,
    size_of,
    slice_length,
    slices,
)
from models.cpu_kernels import onednn_layers, onednn_linears
from models.cpu_memory import keep_freed_memory
from models.device import OUT_OF_MEMORY, free_memory
from models.prefix_packing import Pack, ancestor_mask, pack_prefixes
from models.tokens import RequestEncoder
from models.tree_attention import installed, tree_layout
from models.under_test import TOO_LONG

Request = tuple[str, str]
Tokens = tuple[int, ...]
Scores = list[tuple[int, float]]
"""(request index, log-likelihood) pairs, as one forward pass finishes them."""

SCORER_VERSION = 3
"""Bump whenever a change here can change a score: persistent score caches are keyed by it."""

PACK_TOKENS = 256
"""Tree nodes per forward pass until measured (``models.autotune``), and where nothing is measured."""
BATCH_SIZE = 16
"""Inputs per padded batch until measured, and on a GPU (halved on out-of-memory)."""
TREE_INPUT_TOKENS = 256
"""Longer inputs are scored in padded batches. Blocked tree attention over a long path pads every block's keys to
the longest: the few-shot behaviour's 220-560-token prompts took 49 s in packs of 1,024 nodes against 36 s padded,
though the tree computed 12% fewer tokens (SmolLM2, 2-core AMD EPYC)."""
HEAD_ROWS = 128
"""Scored positions per LM-head call (``HeadQueue``)."""
HEAD_TOKENS = 4096
"""Computed tokens after which a ``HeadQueue`` is flushed even with fewer scored positions: each flush is a progress
line's worth of finished requests, and 800-token prompts (one scored position each) would otherwise hold back 128
passes, 90 s of silence on SmolLM2 (2-core AMD EPYC); a head read per 4,096 tokens costs a few percent on Gemma."""

PACKABLE_ATTENTION = ("sdpa", "eager")
"""Attention implementations that honour a custom 4-D mask (flash attention and flex attention do not)."""

_PROBE_TOLERANCE = 1e-4

_NO_LIMIT = 10**9
"""transformers sets ``model_max_length`` to 1e30 when a tokenizer states no limit."""


def context_length(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The most tokens the model reads at once: its position table (``max_position_embeddings``, GPT-2's
    ``n_positions``), else the tokenizer's ``model_max_length`` unless that is transformers' "no limit" sentinel."""
    config = getattr(model, "config", None)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    positions = getattr(text_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        return positions
    stated = getattr(tokenizer, "model_max_length", None)
    return stated if isinstance(stated, int) and 0 < stated < _NO_LIMIT else None


def left_padded(rows: Sequence[Tokens], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, position_ids) with every row right-aligned, so each row's last positions
    are its own last tokens, and positions counted from each row's first real token as if unpadded."""
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        input_ids[index, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        attention_mask[index, width - len(row) :] = 1
    position_ids = (attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
    return input_ids, attention_mask, position_ids


def summed_logprobs(logits: torch.Tensor, targets: Sequence[Sequence[tuple[int, int]]]) -> list[float]:
    """For each target, the sum in float64 of the log-probability ``logits[slot]`` gives ``token``, over its
    (slot, token) pairs, where ``logits`` has shape (slots, vocabulary). The whole rows' log-softmax, as
    lm-evaluation-harness takes it: ``logsumexp`` alone differs from it by up to 7e-5 over Gemma's 262k entries."""
    slots, tokens, owners = [], [], []
    for number, target in enumerate(targets):
        for slot, token in target:
            slots.append(slot)
            tokens.append(token)
            owners.append(number)
    picked = torch.log_softmax(logits.float(), dim=-1)[slots, tokens].double()
    sums = torch.zeros(len(targets), dtype=torch.float64, device=picked.device)
    sums.index_add_(0, torch.tensor(owners, device=picked.device), picked)
    return sums.tolist()


Slots = list[tuple[int, list[tuple[int, int]]]]
"""(request index, [(row of the scored positions' states, token)]) for each request a forward pass finishes."""


class HeadQueue:
    """Scored positions' states from several forward passes, put through the LM head together.

    The LM head reads its whole weight on every call, however few rows it gets: Gemma 3's 262,144 x 640 is 671 MB,
    which cost as much as a third of a 256-node pack's forward pass when each pack called the head for its dozen
    scored nodes. It is flushed after ``rows`` scored positions or ``tokens`` computed tokens, whichever comes first,
    so finished requests are reported steadily. With ``head`` None the states are logits already and every ``add``
    is ready at once."""

    def __init__(self, head: torch.nn.Module | None, rows: int, tokens: int = HEAD_TOKENS) -> None:
        self.head = head
        self.rows = rows if head is not None else 1
        self.tokens = tokens
        self._states: list[torch.Tensor] = []
        self._slots: Slots = []
        self._count = 0
        self._computed = 0

    def add(self, states: torch.Tensor, slots: Slots, computed: int) -> None:
        """Queue a forward pass's scored ``states``; ``computed``: the tokens that pass computed."""
        offset = self._count
        self._states.append(states)
        self._slots.extend((index, [(offset + row, token) for row, token in pairs]) for index, pairs in slots)
        self._count += states.shape[0]
        self._computed += computed

    def ready(self) -> bool:
        return self._count >= self.rows or self._computed >= self.tokens

    def flush(self) -> Scores:
        if not self._slots:
            return []
        with torch.inference_mode():
            states = torch.cat(self._states)
            logits = states if self.head is None else self.head(states)
            sums = summed_logprobs(logits, [pairs for _, pairs in self._slots])
        scores = [(index, value) for (index, _), value in zip(self._slots, sums, strict=True)]
        self._states, self._slots, self._count, self._computed = [], [], 0, 0
        return scores


class HFBackend:
    """Log-likelihoods from a transformers causal LM, batched.

    How the work is laid out and which kernels run it is chosen by measurement on a CPU (``models.autotune``):
    ``path`` (``auto``, ``tree``, ``padded``), ``onednn`` (``auto``, ``on``, ``off``), ``batch_size`` and
    ``pack_tokens`` (None: measured) force a choice instead. Every choice gives the same scores."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        label: str,
        path: str = "auto",
        onednn: str = "auto",
        batch_size: int | None = None,
        pack_tokens: int | None = None,
        plans: PlanStore | None = None,
        clock: Callable[[], float] = time.perf_counter,
        notify: Callable[[str], None] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        if path not in PATHS:
            raise ValueError(f"path must be one of {'|'.join(PATHS)}, got {path!r}")
        if onednn not in KERNELS:
            raise ValueError(f"onednn must be one of {'|'.join(KERNELS)}, got {onednn!r}")
        for name, value in (("batch_size", batch_size), ("pack_tokens", pack_tokens)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.model: PreTrainedModel | None = model
        self.tokenizer: PreTrainedTokenizerBase | None = tokenizer
        self.label = label
        self.path = path
        self.batch_size = batch_size or BATCH_SIZE
        self.pack_tokens = pack_tokens or PACK_TOKENS
        self.plans = plans
        self.clock = clock
        self.notify = notify
        self.fingerprint = fingerprint
        self.context_length = context_length(model, tokenizer)
        """Inputs longer than this many tokens are not scored (``TOO_LONG``): the model never saw such positions."""
        self.packing_checked: bool | None = None
        """None until the first scoring call checks the prefix-tree layout against padded batches on this model."""
        self.head_deferred: bool | None = None
        """None until the first scoring call checks, on this model, that its LM head can be run apart from its
        body (``HeadQueue``): nothing may happen to the logits after the head (Gemma 2's soft-capping does)."""
        self.onednn: bool | None = {"on": True, "off": False}.get(onednn)
        """None until measured (or recalled) on this machine; oneDNN, where this torch has it, until then."""
        self.layout_rates: dict[Layout, float] | None = None
        """Seconds per computed token of the chosen tree and padded layouts, once measured (or recalled)."""
        self.scoring: dict[str, Any] = {"path": path, "onednn": self.onednn, "tuning": {}, "inputs": {}}
        """What was chosen and why, for the run's report; updated in place as choices are made."""
        self._options = f"path {path}, oneDNN {onednn}, batch {batch_size or 'auto'}, pack {pack_tokens or 'auto'}"
        self._open_sizes = (pack_tokens is None, batch_size is None)
        self._ceilings: dict[bool, int] = {}
        """The pack (True) or batch (False) size an out-of-memory error lowered to: a race's choice never exceeds it."""
        self._recalled = False
        self._encoder = RequestEncoder(tokenizer)
        if self._device().type == "cpu":
            keep_freed_memory()  # freed activations kept for the next pass, not faulted in again (models.cpu_memory)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self._pad_id = pad_id if pad_id is not None else 0

    def __repr__(self) -> str:
        return f"HFBackend({self.label!r}, batch_size={self.batch_size})"

    def tokenize_request(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context token ids, continuation token ids) exactly as scored."""
        if self.tokenizer is None:
            raise RuntimeError(f"{self!r} is closed")
        return self._encoder(context, continuation)

    def loglikelihoods(
        self, requests: Sequence[Request], *, progress: Callable[[int], None] | None = None
    ) -> list[float]:
        """Sum of log-probs of each continuation's tokens given its context, in request order; ``TOO_LONG`` for a
        request whose input is longer than the model's context (lm-eval would cut its start off silently).
        progress(k) is called with the number of requests finished after each forward pass."""
        if self.model is None:
            raise RuntimeError(f"{self!r} is closed")
        targets, sharing = self._group(requests)
        results = [0.0] * len(requests)
        limit = self.context_length
        too_long = {key: indices for key, indices in sharing.items() if limit is not None and len(key) > limit}
        for key, indices in too_long.items():
            del sharing[key]
            for index in indices:
                results[index] = TOO_LONG
        finished = sum(len(indices) for indices in too_long.values())
        if progress is not None and finished:
            progress(finished)
        for scores in self._scores(targets, sharing):
            for index, score in scores:
                results[index] = score
            finished += len(scores)
            if progress is not None:
                progress(finished)
        return results

    def close(self) -> None:
        """Drop the model and tokenizer references and free memory (gc.collect(); torch.cuda.empty_cache() only
        when CUDA is available), so the next model of a scale sweep can load."""
        self.model = None
        self.tokenizer = None
        free_memory()

    def _group(self, requests: Sequence[Request]) -> tuple[list[Tokens], dict[Tokens, list[int]]]:
        """Each request's continuation ids, and the request indices sharing each scored input: the classes of
        one prompt are usually single tokens after the same context, so they need one forward pass, not one each."""
        targets: list[Tokens] = []
        sharing: dict[Tokens, list[int]] = {}
        for index, (context, continuation) in enumerate(requests):
            context_ids, continuation_ids = self.tokenize_request(context, continuation)
            targets.append(tuple(continuation_ids))
            sharing.setdefault(tuple(context_ids + continuation_ids)[:-1], []).append(index)
        return targets, sharing

    def _scores(self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]]) -> Iterator[Scores]:
        """Every input's scores: first whatever races still have to measure, then the rest the chosen way."""
        if not sharing:
            return
        self._recall()
        if self.head_deferred is None:
            self.head_deferred = self._check_head(targets, sharing)
        pending = dict(sharing)
        yield from self._race_kernels(targets, pending)
        yield from self._race_layouts(targets, pending)
        self.scoring.update(onednn=self._onednn_in_use(), pack_tokens=self.pack_tokens, batch_size=self.batch_size)
        short = {key: indices for key, indices in pending.items() if len(key) <= self._tree_limit(self.pack_tokens)}
        tree = self._tree_pays(targets, short)
        self._count("tree", len(short) if tree else 0)
        self._count("padded", len(pending) - (len(short) if tree else 0))
        with self._kernels(self.onednn):
            if tree:
                long = {key: indices for key, indices in pending.items() if key not in short}
                yield from itertools.chain(self._packed(targets, short), self._padded(targets, long))
            else:
                yield from self._padded(targets, pending)

    def _tunable(self) -> bool:
        """Races run on a CPU only: on a GPU the padded path is the default (written from the documentation of
        GPU kernels, where launch count dominates at these sizes; no GPU was available to measure)."""
        return self._device().type == "cpu"

    def _onednn_in_use(self) -> bool:
        """Whether the float32 linear layers run through oneDNN now: as measured, forced, or (unmeasured) wherever
        this torch has it for this model."""
        assert self.model is not None
        return self.onednn if self.onednn is not None else bool(onednn_layers(self.model))

    def _kernels(self, onednn: bool | None) -> AbstractContextManager[object]:
        assert self.model is not None
        return nullcontext() if onednn is False else onednn_linears(self.model)

    def _recall(self) -> None:
        """Once: what an earlier session measured on this machine for this model and these options."""
        if self._recalled or self.plans is None or not self._tunable():
            return
        self._recalled = True
        assert self.model is not None
        entry = self.plans.get(self._plan_key())
        kernel_rates = rates_of(entry.get("kernel_seconds_per_token"))
        if self.onednn is None and isinstance(entry.get("onednn"), bool) and kernel_rates is not None:
            self.onednn = entry["onednn"]
            self._note("kernel", "remembered", kernel_rates)
        pack, batch = size_of(entry.get("pack_tokens")), size_of(entry.get("batch_size"))
        rates = rates_of(entry.get("layout_seconds_per_token"))
        chosen = {str(layout): layout for layout in (Layout(True, pack or 0), Layout(False, batch or 0))}
        layout_rates = {chosen[name]: rate for name, rate in (rates or {}).items() if name in chosen}
        if pack is not None and batch is not None and layout_rates:  # anything else: nothing usable is remembered
            self.pack_tokens, self.batch_size, self.layout_rates = pack, batch, layout_rates
            self._note("layout", "remembered", rates)

    def _plan_key(self) -> str:
        assert self.model is not None
        return f"{plan_key(self.model)} | {self._options}"

    def _note(self, what: str, how: str, rates: dict[str, float] | None, seconds: float | None = None) -> None:
        """Record a choice for the report, and say it in one progress line."""
        self.scoring["tuning"][what] = {"how": how, "seconds_per_token": rates, "race_seconds": seconds}
        if self.notify is None:
            return
        if what == "kernel":
            chosen = "oneDNN linears" if self.onednn else "stock linears"
        else:
            layouts = self.layout_rates or {}
            chosen = " and ".join(
                f"tree packs of {layout.size} nodes" if layout.tree else f"padded batches of {layout.size}"
                for layout in sorted(layouts, key=lambda layout: not layout.tree)
            )
            chosen += "; each call takes whichever computes its own inputs faster" if len(layouts) > 1 else ""
        timings = ", ".join(f"{name} {1000 * rate:.3f}" for name, rate in (rates or {}).items())
        spent = f", {seconds:.1f} s of scoring whose scores are kept" if seconds is not None else ""
        self.notify(f"{self.label}: {what} {how} on this CPU{spent} (ms per computed token: {timings}): {chosen}")

    def _announce(self, what: str) -> None:
        """A race can take a while on long prompts: say it has started."""
        if self.notify is not None:
            self.notify(f"{self.label}: timing {what} candidates on this CPU on the first inputs (scores are kept) ...")

    def _kept(self, rates: dict[Any, list[float]], **fields: Any) -> str:
        """Store a race's outcome if its timings were steady (``settled``); say which."""
        if not settled(rates):
            return "measured (timings unsteady, so not remembered)"
        if self._ceilings:
            return "measured (ran out of memory, so not remembered)"
        if self.plans is not None:
            try:
                self.plans.update(self._plan_key(), cpu=cpu_name(), **fields)
            except OSError as error:
                return f"measured (not remembered: {self.plans.path} could not be written: {error.strerror or error})"
        return "measured"

    def _race_kernels(self, targets: Sequence[Tokens], pending: dict[Tokens, list[int]]) -> Iterator[Scores]:
        """oneDNN against the stock linears, on slices of this call's padded batches, once per machine and model."""
        assert self.model is not None
        if self.onednn is not None or not self._tunable():
            return
        if not onednn_layers(self.model):  # no float32 CPU linear layer, or no oneDNN in this torch: no choice
            self.onednn = False
            return
        layout = Layout(False, self.batch_size)
        planned = slices(
            [True, False], sorted(pending, key=len, reverse=True), lambda _, rows: slice_length(layout, rows)
        )
        if planned is None:
            return
        rates, seconds = yield from self._timed_race(
            "kernel",
            planned,
            pending,
            lambda onednn, rows: self._with_kernels(onednn, self._laid_out(targets, pending, layout, rows)),
            lambda _, rows: layout_cost(layout, rows),
        )
        fastest_slices = best(rates)
        self.onednn = min(fastest_slices, key=fastest_slices.__getitem__)
        table = {("oneDNN" if onednn else "stock"): rate for onednn, rate in fastest_slices.items()}
        self._note("kernel", self._kept(rates, onednn=self.onednn, kernel_seconds_per_token=table), table, seconds)

    def _with_kernels(self, onednn: bool | None, batches: Iterator[Scores]) -> Iterator[Scores]:
        with self._kernels(onednn):
            yield from batches

    def _race_layouts(self, targets: Sequence[Tokens], pending: dict[Tokens, list[int]]) -> Iterator[Scores]:
        """Tree packs against padded batches, of each open size, on slices of this call's short inputs, once per
        machine and model; the rates say per call which path its own sharing makes faster."""
        if self.layout_rates is not None or not self._tunable():
            return
        open_pack, open_batch = self._open_sizes
        packs = autotune.PACK_SIZES if open_pack else (self.pack_tokens,)
        short = {key: indices for key, indices in pending.items() if len(key) <= self._tree_limit(min(packs))}
        candidates = []
        if self.path != "padded" and self._packs(targets, short):
            candidates += [Layout(True, size) for size in packs]
        if self.path != "tree":
            candidates += [Layout(False, size) for size in (autotune.BATCH_SIZES if open_batch else (self.batch_size,))]
        if len(candidates) < 2:
            return
        planned = slices(candidates, sorted(short), slice_length)
        if planned is None:
            return
        rates, seconds = yield from self._timed_race(
            "layout",
            planned,
            pending,
            lambda layout, rows: self._with_kernels(self.onednn, self._laid_out(targets, pending, layout, rows)),
            layout_cost,
        )
        fastest_slices = best(rates)
        remaining = [key for key in short if key in pending] or sorted(short)
        chosen = {
            tree: fastest(
                {layout: rate for layout, rate in fastest_slices.items() if layout.tree == tree},
                lambda layout: layout_cost(layout, remaining),
            )
            for tree in (True, False)
            if any(layout.tree == tree for layout in rates)
        }
        if True in chosen:
            self.pack_tokens = min(chosen[True].size, self._ceilings.get(True, chosen[True].size))
        if False in chosen:
            self.batch_size = min(chosen[False].size, self._ceilings.get(False, chosen[False].size))
        self.layout_rates = {layout: fastest_slices[layout] for layout in chosen.values()}
        table = {str(layout): rate for layout, rate in fastest_slices.items()}
        kept = self._kept(
            rates, pack_tokens=self.pack_tokens, batch_size=self.batch_size, layout_seconds_per_token=table
        )
        self._note("layout", kept, table, seconds)

    def _timed_race(
        self,
        what: str,
        planned: Sequence[tuple[Candidate, list[Tokens]]],
        pending: dict[Tokens, list[int]],
        run: Callable[[Candidate, Sequence[Tokens]], Iterator[Scores]],
        cost: Callable[[Candidate, Sequence[Tokens]], int],
    ) -> Generator[Scores, None, tuple[dict[Candidate, list[float]], float]]:
        """Announce a race, run it (yielding its scores), drop what it scored from ``pending``; return each
        candidate's seconds per token by slice, and the race's seconds."""
        self._announce(what)
        started = self.clock()
        rates = yield from race(planned, run, cost, self.clock)
        self._take(pending, planned)
        return rates, self.clock() - started

    def _take(self, pending: dict[Tokens, list[int]], planned: Sequence[tuple[object, list[Tokens]]]) -> None:
        """Drop what a race scored from the call's pending inputs, and count it."""
        for _, rows in planned:
            for row in rows:
                del pending[row]
        self._count("raced", sum(len(rows) for _, rows in planned))

    def _count(self, path: str, inputs: int) -> None:
        if inputs:
            self.scoring["inputs"][path] = self.scoring["inputs"].get(path, 0) + inputs

    def _laid_out(
        self, targets: Sequence[Tokens], pending: dict[Tokens, list[int]], layout: Layout, rows: Sequence[Tokens]
    ) -> Iterator[Scores]:
        sharing = {row: pending[row] for row in rows}
        if layout.tree:
            return self._packed(targets, sharing, budget=layout.size)
        return self._padded(targets, sharing, batch=layout.size)

    @staticmethod
    def _tree_limit(pack_tokens: int) -> int:
        """The longest input a pack of ``pack_tokens`` nodes takes: a longer one would be a pack of its own, and one
        longer than ``TREE_INPUT_TOKENS`` attends along its path slower than its sharing saves."""
        return min(pack_tokens, TREE_INPUT_TOKENS)

    def _tree_pays(self, targets: Sequence[Tokens], short: dict[Tokens, list[int]]) -> bool:
        """Whether this call's short inputs go through the prefix tree: asked for or measured faster for this
        call's own sharing (tree nodes x seconds per node against padded cells x seconds per cell), and possible."""
        if self.path == "padded" or (self.path == "auto" and not self._tunable()):
            return False
        if not self._packs(targets, short):
            return False
        rates = self.layout_rates
        if self.path == "tree" or rates is None:  # forced, or nothing measured yet: the tree, as before races
            return True
        if {layout.tree for layout in rates} != {True, False}:
            return any(layout.tree for layout in rates)  # only one path was measured: that one
        return fastest(rates, lambda layout: layout_cost(layout, short)).tree

    def _packs(self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]]) -> bool:
        """Whether a prefix tree is possible: this model's attention takes the layout, and it was checked once
        on this model against padded batches (a model that ignores a custom mask or the positions fails)."""
        if len(sharing) < 2:
            return False
        config = getattr(self.model, "config", None)
        if getattr(config, "_attn_implementation", None) not in PACKABLE_ATTENTION:
            return False
        window = getattr(config, "sliding_window", None)
        if isinstance(window, int) and max(len(key) for key in sharing) > window:
            return False  # the tree mask does not apply a sliding window; within it, the window changes nothing
        if self.packing_checked is None:
            self.packing_checked = self._check_packing(targets, sharing)
        return self.packing_checked

    def _check_packing(self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]]) -> bool:
        """Score the three lexicographically first inputs (neighbours share the most) both ways and compare."""
        probe = {key: sharing[key][:1] for key in sorted(sharing)[:3]}
        padded = dict(pair for scores in self._padded(targets, probe) for pair in scores)
        try:
            packed = dict(pair for scores in self._packed(targets, probe) for pair in scores)
        except (TypeError, ValueError, RuntimeError, IndexError):  # the model's forward refuses the layout
            return False
        return all(abs(packed[index] - value) <= _PROBE_TOLERANCE for index, value in padded.items())

    def _queue(self) -> HeadQueue:
        assert self.model is not None
        return HeadQueue(self.model.get_output_embeddings() if self.head_deferred else None, HEAD_ROWS)

    def _check_head(self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]]) -> bool:
        """Score the three shortest inputs with the head deferred and not, and compare."""
        if not hasattr(self.model, "base_model") or not hasattr(self.model, "get_output_embeddings"):
            return False
        probe = {key: sharing[key][:1] for key in sorted(sharing, key=len)[:3]}
        self.head_deferred = False
        plain = dict(pair for scores in self._padded(targets, probe) for pair in scores)
        self.head_deferred = True
        try:
            deferred = dict(pair for scores in self._padded(targets, probe) for pair in scores)
        except (AttributeError, TypeError, ValueError, RuntimeError, IndexError):  # no base model or head to call
            return False
        finally:
            self.head_deferred = None
        return all(abs(deferred[index] - value) <= _PROBE_TOLERANCE for index, value in plain.items())

    def _padded(
        self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]], batch: int | None = None
    ) -> Iterator[Scores]:
        """Length-sorted, left-padded batches of up to ``batch`` (default ``batch_size``) inputs and
        ``PASS_TOKENS`` cells, halving the batch on out-of-memory and remembering it."""
        # Longest first, as lm-eval does: if anything runs out of memory, it is the first batch.
        inputs = sorted(sharing, key=len, reverse=True)
        batch = batch or self.batch_size
        queue = self._queue()
        start = 0
        while start < len(inputs):
            rows = inputs[start : start + (batch_rows(len(inputs[start]), batch) if self._tunable() else batch)]
            try:
                queue.add(*self._forward_padded(rows, sharing, targets), len(rows) * len(rows[0]))
            except OUT_OF_MEMORY:
                if len(rows) == 1:
                    raise
                batch = self.batch_size = self._ceilings[False] = len(rows) // 2
                halved = True
            else:
                halved = False
            if halved:  # after the except block, so the failed pass's tensors can be freed
                free_memory()
                continue
            start += len(rows)
            if queue.ready():
                yield queue.flush()
        if scores := queue.flush():
            yield scores

    def _packed(
        self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]], budget: int | None = None
    ) -> Iterator[Scores]:
        """Packs of at most ``budget`` (default ``pack_tokens``) tree nodes, halving the budget on out-of-memory
        and remembering it."""
        pending = set(sharing)
        budget = budget or self.pack_tokens
        queue = self._queue()
        while pending:
            for pack in pack_prefixes(pending, budget):
                try:
                    queue.add(*self._forward_pack(pack, sharing, targets), len(pack))
                except OUT_OF_MEMORY:
                    if len(pack.paths) == 1:
                        raise
                    budget = self.pack_tokens = self._ceilings[True] = max(1, len(pack) // 2)
                    halved = True
                else:
                    halved = False
                if halved:  # after the except block, so the failed pass's tensors can be freed
                    free_memory()
                    break  # pack what is left again, with the smaller budget
                pending.difference_update(pack.paths)
                if queue.ready():
                    yield queue.flush()
        if scores := queue.flush():
            yield scores

    def _device(self) -> torch.device:
        assert self.model is not None
        return self.model.get_input_embeddings().weight.device

    def _forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor,
        keep: Sequence[int],
    ) -> torch.Tensor:
        """The states at positions ``keep`` of every row, flattened row by row: hidden states when the LM head is
        deferred to a ``HeadQueue``, else logits."""
        assert self.model is not None
        device = self._device()
        arguments = {
            "input_ids": input_ids.to(device),
            "attention_mask": None if attention_mask is None else attention_mask.to(device),
            "position_ids": position_ids.to(device),
            "use_cache": False,
        }
        positions = torch.tensor(keep, device=device)
        with torch.inference_mode():
            if self.head_deferred:
                hidden = self.model.base_model(**arguments).last_hidden_state
                return hidden[:, positions].flatten(0, 1)
            return self.model(**arguments, logits_to_keep=positions).logits.flatten(0, 1)

    def _forward_padded(
        self, rows: Sequence[Tokens], sharing: dict[Tokens, list[int]], targets: Sequence[Tokens]
    ) -> tuple[torch.Tensor, Slots]:
        """One forward pass over ``rows``, states kept only at the last ``keep`` positions, the ones scored: with
        left padding those are every row's last positions."""
        members = [(row, index) for row, key in enumerate(rows) for index in sharing[key]]
        keep = max(len(targets[index]) for _, index in members)
        input_ids, attention_mask, position_ids = left_padded(rows, self._pad_id)
        width = input_ids.shape[1]
        states = self._forward(input_ids, attention_mask, position_ids, range(width - keep, width))
        slots = [
            (
                index,
                [
                    (row * keep + keep - len(targets[index]) + offset, token)
                    for offset, token in enumerate(targets[index])
                ],
            )
            for row, index in members
        ]
        return states, slots

    def _forward_pack(
        self, pack: Pack, sharing: dict[Tokens, list[int]], targets: Sequence[Tokens]
    ) -> tuple[torch.Tensor, Slots]:
        """One forward pass over a pack: each node attends to its ancestors at its own position, and states are
        kept only at the nodes whose next token is a scored continuation token."""
        assert self.model is not None
        members = [
            (index, path[len(path) - len(targets[index]) :], targets[index])
            for key, path in pack.paths.items()
            for index in sharing[key]
        ]
        keep = sorted({node for _, nodes, _ in members for node in nodes})
        slot = {node: number for number, node in enumerate(keep)}
        dtype = self.model.dtype
        gathered = getattr(self.model.config, "_attn_implementation", None) == "sdpa"
        with installed(self.model, tree_layout(pack, dtype, self._device())) if gathered else nullcontext():
            states = self._forward(
                torch.tensor([pack.tokens]),
                None if gathered else ancestor_mask(pack.parents, dtype),
                torch.tensor([pack.positions]),
                keep,
            )
        slots = [
            (index, [(slot[node], token) for node, token in zip(nodes, target, strict=True)])
            for index, nodes, target in members
        ]
        return states, slots
