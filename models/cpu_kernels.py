"""float32 matrix products on the CPU through oneDNN instead of MKL: the same arithmetic, a faster kernel.

On a CPU, scoring is compute-bound and ~90% of the time is the linear layers' matrix products. torch sends a
float32 ``nn.Linear`` to MKL's sgemm, which on AMD processors runs its AVX2 code path; oneDNN (bundled with torch)
picks its AVX-512 kernel on any processor that has AVX-512. Measured on this project's machine (2-core AMD EPYC,
one thread, 900x576 @ 576x1536): MKL ~100 GFLOP/s, oneDNN ~240 GFLOP/s. Both accumulate in float32, so results
differ only in summation order (~1e-6 relative), like any change of batch shape; ``onednn_available`` checks that
on a probe before anything uses it. On Intel processors MKL already uses AVX-512 and the two are close.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_PROBE_TOLERANCE = 1e-5


def _onednn_linear(module: torch.nn.Linear, inputs: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(inputs, module.weight, module.bias, "none", [], "")


@functools.cache
def onednn_available() -> bool:
    """Whether this torch build has oneDNN's linear op and it agrees with ``F.linear`` on a probe."""
    if not torch.backends.mkldnn.is_available() or not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        return False
    generator = torch.Generator().manual_seed(0)
    probe = torch.nn.Linear(64, 48)
    with torch.no_grad():
        probe.weight.copy_(torch.randn(48, 64, generator=generator))
        inputs = torch.randn(2, 5, 64, generator=generator)
        try:
            got = _onednn_linear(probe, inputs)
        except RuntimeError:
            return False
        expected = torch.nn.functional.linear(inputs, probe.weight, probe.bias)
    scale = expected.abs().max().item()
    return got.shape == expected.shape and (got - expected).abs().max().item() <= _PROBE_TOLERANCE * scale


def onednn_layers(model: torch.nn.Module) -> list[torch.nn.Linear]:
    """The layers ``onednn_linears`` would route through oneDNN: float32 ``nn.Linear`` on the CPU, not already
    routed; none where this torch has no working oneDNN linear."""
    if not onednn_available():
        return []
    return [
        module
        for module in model.modules()
        if type(module) is torch.nn.Linear
        and module.weight.device.type == "cpu"
        and module.weight.dtype == torch.float32
        and "forward" not in module.__dict__
    ]


@contextmanager
def onednn_linears(model: torch.nn.Module) -> Iterator[int]:
    """Route the model's float32 CPU ``nn.Linear`` layers through oneDNN while inside; yields how many.

    Nothing is copied: each layer keeps its own weight and only its ``forward`` is replaced, and restored on exit.
    """
    layers = onednn_layers(model)
    if not layers:
        yield 0
        return
    for module in layers:
        module.forward = functools.partial(_onednn_linear, module)
    try:
        yield len(layers)
    finally:
        for module in layers:
            del module.forward
