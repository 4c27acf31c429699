"""Batched log-likelihood of continuations for a transformers causal LM.

Scores are exact: the token boundary follows lm-evaluation-harness' HFLM ``_encode_pair`` (so numbers are
comparable with published evaluations), and batching, left padding and sharing one forward pass between
requests with identical inputs give the same values as scoring one unpadded request at a time.

On a CPU the work is compute-bound, so the scorer computes as few tokens as it can: the distinct inputs are laid
out as a prefix tree (``models.prefix_packing``), so every token shared by several prompts is computed once, and
the LM head runs only where a continuation token is scored. Models for which that layout cannot be checked to give
the same numbers fall back to length-sorted, left-padded batches.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from models.cpu_kernels import onednn_linears
from models.device import free_memory
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
"""Tree nodes per forward pass. Attention in a pack is over all its nodes (masked to each node's ancestors), so
its cost grows with the square of the pack; 256 computed the 1,000-case benchmark fastest on a 2-core CPU
(128: less sharing and more passes; 512: attention outweighs the extra sharing)."""

PACKABLE_ATTENTION = ("sdpa", "eager")
"""Attention implementations that honour a custom 4-D mask (flash attention and flex attention do not)."""

_PROBE_TOLERANCE = 1e-4

_NO_LIMIT = 10**9
"""transformers sets ``model_max_length`` to 1e30 when a tokenizer states no limit."""

_OutOfMemoryError: type[Exception] = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


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


def summed_logprobs(logprobs: torch.Tensor, targets: Sequence[Sequence[tuple[int, int]]]) -> list[float]:
    """For each target, the sum in float64 of ``logprobs[slot, token]`` over its (slot, token) pairs, where
    ``logprobs`` has shape (slots, vocabulary)."""
    slots, tokens, owners = [], [], []
    for number, target in enumerate(targets):
        for slot, token in target:
            slots.append(slot)
            tokens.append(token)
            owners.append(number)
    picked = logprobs[slots, tokens].double()
    sums = torch.zeros(len(targets), dtype=torch.float64, device=picked.device)
    sums.index_add_(0, torch.tensor(owners, device=picked.device), picked)
    return sums.tolist()


class HFBackend:
    """Log-likelihoods from a transformers causal LM, batched.

    ``share_prefixes`` and ``onednn`` exist so a benchmark can measure what each contributes; both keep scores
    exact and are on by default."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        label: str,
        batch_size: int = 16,
        pack_tokens: int = PACK_TOKENS,
        share_prefixes: bool = True,
        onednn: bool = True,
        fingerprint: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if pack_tokens < 1:
            raise ValueError(f"pack_tokens must be at least 1, got {pack_tokens}")
        self.model: PreTrainedModel | None = model
        self.tokenizer: PreTrainedTokenizerBase | None = tokenizer
        self.label = label
        self.batch_size = batch_size
        self.pack_tokens = pack_tokens
        self.share_prefixes = share_prefixes
        self.onednn = onednn
        self.fingerprint = fingerprint
        self.context_length = context_length(model, tokenizer)
        """Inputs longer than this many tokens are not scored (``TOO_LONG``): the model never saw such positions."""
        self.packing_checked: bool | None = None
        """None until the first scoring call checks the prefix-tree layout against padded batches on this model."""
        self._encoder = RequestEncoder(tokenizer)
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
        # An input longer than a pack would be a pack of its own: no sharing, and attention along its path costs
        # more than a padded batch's (measured: 800-token hindsight-neglect prompts score ~5x slower packed).
        short = {key: indices for key, indices in sharing.items() if len(key) <= self.pack_tokens}
        long = {key: indices for key, indices in sharing.items() if len(key) > self.pack_tokens}
        with onednn_linears(self.model) if self.onednn else nullcontext():
            if self._packs(targets, short):
                batches = itertools.chain(self._packed(targets, short), self._padded(targets, long))
            else:
                batches = self._padded(targets, sharing)
            for scores in batches:
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

    def _packs(self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]]) -> bool:
        """Whether to score through a prefix tree: asked for, possible for this model's attention, and checked
        once on this model against padded batches (a model that ignores a custom mask or the positions fails)."""
        if not self.share_prefixes or len(sharing) < 2:
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

    def _padded(self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]]) -> Iterator[Scores]:
        """Length-sorted, left-padded batches of ``batch_size`` inputs, halving the batch on out-of-memory."""
        # Longest first, as lm-eval does: if anything runs out of memory, it is the first batch.
        inputs = sorted(sharing, key=len, reverse=True)
        start = 0
        while start < len(inputs):
            rows = inputs[start : start + self.batch_size]
            members = [(row, index) for row, key in enumerate(rows) for index in sharing[key]]
            try:
                scores = self._score_padded(rows, [(row, targets[index]) for row, index in members])
            except _OutOfMemoryError:
                if len(rows) == 1:
                    raise
                self.batch_size = len(rows) // 2
                scores = None
            if scores is None:  # outside the except block, so the failed pass's tensors can be freed
                free_memory()
                continue
            yield [(index, score) for (_, index), score in zip(members, scores, strict=True)]
            start += len(rows)

    def _packed(self, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]]) -> Iterator[Scores]:
        """Packs of at most ``pack_tokens`` tree nodes, halving the budget on out-of-memory."""
        pending = set(sharing)
        while pending:
            for pack in pack_prefixes(pending, self.pack_tokens):
                try:
                    scores = self._score_pack(pack, targets, sharing)
                except _OutOfMemoryError:
                    if len(pack.paths) == 1:
                        raise
                    self.pack_tokens = max(1, len(pack) // 2)
                    scores = None
                if scores is None:
                    free_memory()
                    break  # pack what is left again, with the smaller budget
                yield scores
                pending.difference_update(pack.paths)

    def _device(self) -> torch.device:
        assert self.model is not None
        return self.model.get_input_embeddings().weight.device

    def _score_padded(self, rows: Sequence[Tokens], targets: Sequence[tuple[int, Tokens]]) -> list[float]:
        """One forward pass over ``rows`` for all their targets. Logits are asked for only at the last ``keep``
        positions, the ones scored: with left padding those are every row's last positions."""
        assert self.model is not None
        keep = max(len(target) for _, target in targets)
        device = self._device()
        input_ids, attention_mask, position_ids = left_padded(rows, self._pad_id)
        with torch.inference_mode():
            logits = self.model(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                position_ids=position_ids.to(device),
                logits_to_keep=keep,
                use_cache=False,
            ).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1).flatten(0, 1)
            slots = [
                [(row * keep + keep - len(target) + offset, token) for offset, token in enumerate(target)]
                for row, target in targets
            ]
            return summed_logprobs(logprobs, slots)

    def _score_pack(self, pack: Pack, targets: Sequence[Tokens], sharing: dict[Tokens, list[int]]) -> Scores:
        """One forward pass over a pack: each node attends to its ancestors at its own position, and logits are
        computed only at the nodes whose next token is a scored continuation token."""
        assert self.model is not None
        members = [
            (index, path[len(path) - len(targets[index]) :], targets[index])
            for key, path in pack.paths.items()
            for index in sharing[key]
        ]
        keep = sorted({node for _, nodes, _ in members for node in nodes})
        slot = {node: number for number, node in enumerate(keep)}
        device = self._device()
        dtype = self.model.dtype
        gathered = getattr(self.model.config, "_attn_implementation", None) == "sdpa"
        with (
            torch.inference_mode(),
            installed(self.model, tree_layout(pack, dtype, device)) if gathered else nullcontext(),
        ):
            logits = self.model(
                input_ids=torch.tensor([pack.tokens], device=device),
                attention_mask=None if gathered else ancestor_mask(pack.parents, dtype).to(device),
                position_ids=torch.tensor([pack.positions], device=device),
                logits_to_keep=torch.tensor(keep, device=device),
                use_cache=False,
            ).logits[0]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            sums = summed_logprobs(
                logprobs,
                [
                    [(slot[node], token) for node, token in zip(nodes, target, strict=True)]
                    for _, nodes, target in members
                ],
            )
        return [(index, value) for (index, _, _), value in zip(members, sums, strict=True)]
