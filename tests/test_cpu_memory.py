"""Memory freed between forward passes on a CPU is reused, not handed back to the kernel and faulted in again
(models/cpu_memory.py). Page faults are counted, not timed: each is a fresh page the kernel had to map and zero."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from models import cpu_memory, scoring
from models.scoring import HFBackend

PASSES = """
import resource, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
from models.cpu_memory import keep_freed_memory
torch.set_num_threads(1)
if sys.argv[1] == "kept":
    assert keep_freed_memory()
# SmolLM2's widths, four layers, random weights: its activations are a few MiB each, as SmolLM2's are
config = LlamaConfig(vocab_size=1000, hidden_size=576, intermediate_size=1536, num_hidden_layers=4,
                     num_attention_heads=9, num_key_value_heads=3, head_dim=64)
model = LlamaForCausalLM(config).eval()
inputs = torch.randint(0, 1000, (11, 89))
faults = 0
with torch.inference_mode():
    for number in range(6):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        model.model(input_ids=inputs, use_cache=False)
        if number >= 2:  # the first passes grow the heap, as they must under any policy
            faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults)
"""

pytestmark = pytest.mark.skipif(cpu_memory._glibc() is None, reason="the C library is not glibc: nothing is changed")


def _faults(policy: str) -> int:
    """Minor page faults of the third to sixth of six identical forward passes, in a fresh process (malloc's state is
    the process's)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", PASSES, policy], cwd=root, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_buffers_freed_between_passes_are_reused_not_faulted_in_again() -> None:
    """Under glibc's own thresholds every pass maps and faults in its activations afresh (7,000-17,500 pages a pass when
    this was written); with the scorer's policy the passes after the first two reuse the same pages (a few faults
    remain where other processes press on memory: 0-1,100 here, against 28,000-70,000)."""
    default, kept = _faults("default"), _faults("kept")
    if default <= 4 * 2048:
        pytest.skip(
            f"glibc's own thresholds faulted only {default} pages here (transparent huge pages, malloc tunables or a "
            "preloaded allocator): nothing to compare"
        )
    assert kept * 10 < default, (kept, default)


def test_the_scorer_keeps_freed_memory_on_a_cpu(tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[None] = []
    monkeypatch.setattr(scoring, "keep_freed_memory", lambda: calls.append(None))
    HFBackend(*tiny["llama"], label="llama")
    assert calls == [None]
