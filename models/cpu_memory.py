"""Memory freed while scoring on a CPU is kept for the next forward pass, not handed back to the kernel and faulted in
again.

glibc's malloc serves a block above its mmap threshold with a fresh mapping and unmaps it when freed, and hands the
top of its heap back to the kernel whenever more than its trim threshold lies free there. Both thresholds start low
(128 KiB) and rise only as larger blocks are freed (to at most 32 MiB, and twice that), so SmolLM2's activations of a
few MiB each kept being mapped, zero-filled page by page and unmapped again: its 1,000-token passes took 70,000-200,000
minor page faults each, up to a fifth of their time, in amounts that varied with the heap's history, so a scoring
race's slices of one candidate disagreed by up to 1.27x and its outcome was not remembered
(``models.autotune.settled``; 2-core AMD EPYC; Gemma 3's passes hardly faulted). With both thresholds at those
ceilings from the start, the same passes took at most a few thousand faults each, and a session's peak resident
memory grew by at most 3%. ``release_freed_memory`` hands the free heap back when a model is dropped. Where the C
library is not glibc, nothing changes.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
"""glibc's ceiling for its own rising mmap threshold (``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit), and the most
``mallopt`` accepts."""
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
"""What glibc pairs with that mmap threshold when it raises it itself."""


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The process's C library, if it is glibc (the only one whose ``mallopt`` and ``malloc_trim`` are used here): on
    Linux only, since ``ctypes.CDLL(None)`` raises TypeError on Windows."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        library = ctypes.CDLL(None)
    except (OSError, TypeError):
        return None
    if not all(hasattr(library, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    return library


@functools.cache
def keep_freed_memory() -> bool:
    """Once per process: fix glibc's mmap and trim thresholds at their ceilings, so freed activations stay in the heap
    for the next pass. Whether it was done."""
    library = _glibc()
    if library is None:
        return False
    return bool(library.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        library.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def release_freed_memory() -> None:
    """Hand every free page of glibc's heaps back to the kernel (``malloc_trim``): a dropped model's memory, which the
    thresholds would otherwise keep for reuse."""
    library = _glibc()
    if library is not None:
        library.malloc_trim(0)
