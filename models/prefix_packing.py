"""Lay out many token sequences as one prefix tree, so a token shared by several sequences is computed once.

The prompts of a behaviour share long prefixes (a template's words, an alphabet's listing, the growing pattern).
A causal LM's hidden state at a position depends only on the tokens up to it, so sequences that agree up to
position k have identical states there: a prefix tree (trie) over all sequences holds every state that has to be
computed, and no other. A ``Pack`` is a part of that tree written out as one row in depth-first order: each node
carries its token, its position in its sequence (its depth) and its parent. Attending only to a node's ancestors
(``ancestor_mask``) with those positions gives every node exactly the state it has in its own unpadded sequence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

Tokens = tuple[int, ...]


@dataclass
class Pack:
    """Sequences sharing one row: ``paths[sequence][i]`` is the node that holds ``sequence[i]``."""

    tokens: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    paths: dict[Tokens, list[int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens)


def _common_prefix(first: Tokens, second: Tokens) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


def pack_prefixes(sequences: Iterable[Tokens], budget: int) -> list[Pack]:
    """Distinct sequences in lexicographic order, cut into packs of at most ``budget`` nodes (a longer sequence
    gets a pack of its own). In that order a sequence shares the most with the one before it, so the longest
    common prefix with its predecessor is all the sharing the tree can give it."""
    if budget < 1:
        raise ValueError(f"budget must be at least 1, got {budget}")
    packs: list[Pack] = []
    previous: Tokens = ()
    previous_path: list[int] = []
    for sequence in sorted(set(sequences)):
        if not sequence:
            raise ValueError("cannot pack an empty sequence")
        shared = _common_prefix(sequence, previous) if packs else 0
        if not packs or len(packs[-1]) + len(sequence) - shared > budget:
            packs.append(Pack())
            shared = 0
        pack = packs[-1]
        path = previous_path[:shared]
        for position in range(shared, len(sequence)):
            pack.parents.append(path[-1] if path else -1)
            path.append(len(pack.tokens))
            pack.tokens.append(sequence[position])
            pack.positions.append(position)
        pack.paths[sequence] = path
        previous, previous_path = sequence, path
    return packs


def ancestry(parents: Sequence[int]) -> np.ndarray:
    """(nodes, nodes) booleans: True where the key (column) is the query node (row) or one of its ancestors."""
    count = len(parents)
    allowed = np.zeros((count, count), dtype=bool)
    for node, parent in enumerate(parents):
        if parent >= 0:
            allowed[node, : parent + 1] = allowed[parent, : parent + 1]
        allowed[node, node] = True
    return allowed


def ancestor_mask(parents: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    """Additive attention mask (1, 1, nodes, nodes): 0 where the key is the query node or one of its ancestors,
    the dtype's most negative value elsewhere (not -inf, so a fully masked row cannot turn into NaN)."""
    count = len(parents)
    mask = torch.zeros((count, count), dtype=dtype)
    mask.masked_fill_(~torch.from_numpy(ancestry(parents)), torch.finfo(dtype).min)
    return mask[None, None]
