"""What a strategy declares it can draw: the values of a plain ``sampled_from``, ``just``, ``booleans()`` or small
bounded ``integers``, so a generator can record an axis' declared domain from the very strategy that draws it.

The strategies stay the single declaration of the case space; an axis drawn from anything else (a mapped,
filtered or user-built strategy) has no declared domain and the audit reports its frequencies only.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies._internal.strategies import SampledFromStrategy

from generators.case import AxisValue

MAX_DECLARED = 1000
"""An integer range larger than this is not a domain anyone would tabulate."""


def declared_values(strategy: st.SearchStrategy) -> tuple[object, ...] | None:
    """Every value ``strategy`` can draw, each equally likely under the uniform sampler; None if unknown."""
    inner = getattr(strategy, "wrapped_strategy", strategy)
    if isinstance(inner, SampledFromStrategy) and not inner._transformations:
        return tuple(inner.elements)
    kind = type(inner).__name__
    if kind == "BooleansStrategy":
        return (False, True)
    if kind == "IntegersStrategy" and inner.start is not None and inner.end is not None:
        if inner.end - inner.start < MAX_DECLARED:
            return tuple(range(inner.start, inner.end + 1))
    return None


def declared_axis(strategy: st.SearchStrategy, name: str = "") -> tuple[AxisValue, ...] | None:
    """``declared_values`` as axis values: objects with an ``id`` or ``name`` (templates, alphabets) by that."""
    values = declared_values(strategy)
    if values is None:
        return None
    return tuple(getattr(value, "id", None) or getattr(value, "name", None) or value for value in values)
