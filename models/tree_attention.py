"""Attention over a pack of prefix-tree nodes at about the cost of each sequence's own causal attention.

With a plain 4-D ancestor mask every node of a pack scores every other node and most scores are masked away:
the work grows with the square of the pack. Here the pack's nodes, in their depth-first order, are cut into blocks
of ``BLOCK_QUERIES`` consecutive queries; a block's keys are the union of its queries' ancestors (in depth-first
order that is one path plus a few branches, not the pack), gathered once per layer, and one batched
scaled-dot-product attention call covers every block. The arithmetic is the one padded batches do, so scores stay
exact; the layout is installed for one forward pass as the model's attention implementation.

Blocks of consecutive nodes replaced rows of one sequence's own queries (commit 224ad20): a sequence that added
three nodes to the tree used to fill a row of 16 queries, and many small rows made sdpa's CPU kernel the pack's
most expensive operation after the linear layers (see BENCHMARKS.md, "Where the tree path's time went").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from models.prefix_packing import Pack, ancestry

NAME = "scalecheck_tree"
BLOCK_QUERIES = 32
"""Consecutive nodes per attention block. Smaller blocks see fewer keys each but make more, smaller products;
32 measured fastest on packs of 256 nodes (16, 64: 3-4% slower in all; 2-core AMD EPYC)."""


@dataclass(frozen=True)
class TreeLayout:
    """Blocks of consecutive query nodes, the keys each block sees, and which query may see which key."""

    nodes: int
    key_index: torch.Tensor
    """(blocks, most keys): node index of each key; padding repeats a valid index (masked out)."""
    mask: torch.Tensor
    """(blocks, 1, BLOCK_QUERIES, most keys): 0 where allowed, the dtype's minimum elsewhere."""


_LAYOUT: ContextVar[TreeLayout | None] = ContextVar("scalecheck_tree_layout", default=None)


def tree_layout(pack: Pack, dtype: torch.dtype, device: torch.device, block: int = BLOCK_QUERIES) -> TreeLayout:
    """The pack's nodes in blocks of ``block``; each block's keys are the nodes some query of it may see."""
    allowed = ancestry(pack.parents)
    nodes = len(pack)
    starts = range(0, nodes, block)
    keys = [np.flatnonzero(allowed[start : start + block].any(axis=0)) for start in starts]
    longest = max(len(row) for row in keys)
    key_index = np.empty((len(keys), longest), dtype=np.int64)
    visible = np.zeros((len(keys), block, longest), dtype=bool)
    for number, (start, row) in enumerate(zip(starts, keys, strict=True)):
        key_index[number, : len(row)] = row
        key_index[number, len(row) :] = row[-1]
        queries = allowed[start : start + block, row]
        visible[number, : len(queries), : len(row)] = queries
    mask = torch.zeros(visible.shape, dtype=dtype).masked_fill_(~torch.from_numpy(visible), torch.finfo(dtype).min)
    return TreeLayout(nodes=nodes, key_index=torch.from_numpy(key_index).to(device), mask=mask[:, None].to(device))


def tree_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention signature: query (1, heads, nodes, dim), key/value (1, kv heads, nodes, dim);
    returns (1, nodes, heads, dim). Without a layout installed it is plain sdpa.

    Written out as two batched products and a softmax, with each key head's query heads side by side (no copy of
    the keys per query head): on blocks this small, sdpa's CPU kernels cost more than the arithmetic. Anything
    this does not implement (dropout, soft-capping, attention sinks) is refused, so the scorer's check of the
    layout fails and that model is scored in padded batches."""
    layout = _LAYOUT.get()
    if layout is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    unsupported = [name for name in ("softcap", "s_aux", "sinks") if kwargs.get(name) is not None]
    if dropout or unsupported:
        raise ValueError(f"tree attention does not implement {unsupported or ['dropout']}")
    heads, nodes, dim = query.shape[1:]
    key_heads = key.shape[1]
    groups = heads // key_heads
    blocks, block = layout.mask.shape[0], layout.mask.shape[2]
    padded = torch.nn.functional.pad(query[0], (0, 0, 0, blocks * block - nodes))
    queries = padded.view(key_heads, groups, blocks, block, dim).permute(2, 0, 1, 3, 4)
    keys = key[0][:, layout.key_index].transpose(0, 1)  # (blocks, key heads, keys, dim)
    values = value[0][:, layout.key_index].transpose(0, 1)
    scores = torch.matmul(queries.reshape(blocks, key_heads, groups * block, dim), keys.transpose(-1, -2))
    scores = scores.mul_(dim**-0.5 if scaling is None else scaling).view(blocks, key_heads, groups, block, -1)
    weights = torch.softmax(scores.add_(layout.mask[:, :, None]), dim=-1).view(blocks, key_heads, groups * block, -1)
    attended = torch.matmul(weights, values).view(blocks, key_heads, groups, block, -1)
    return attended.permute(0, 3, 1, 2, 4).reshape(blocks * block, heads, -1)[:nodes][None], None


AttentionInterface.register(NAME, tree_attention)


@contextmanager
def installed(model: torch.nn.Module, layout: TreeLayout) -> Iterator[None]:
    """Run the model's attention through ``tree_attention`` with ``layout`` while inside."""
    config = model.config
    previous = config._attn_implementation
    token = _LAYOUT.set(layout)
    config._attn_implementation = NAME
    try:
        yield
    finally:
        config._attn_implementation = previous
        _LAYOUT.reset(token)
