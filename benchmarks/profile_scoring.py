"""Where a scoring path's time goes: torch.profiler's CPU time per operator, grouped into what a forward pass does.

    benchmarks/.venv/bin/python -m benchmarks.profile_scoring --cases 200 '{"path": "tree"}' '{"path": "padded"}'

Each argument is a JSON object of ``HFBackend`` options, profiled in turn on the same repetition-suppression
requests as ``benchmarks.scoring`` (after one untimed warm-up call). CPU time per operator is what the profiler
attributes to it on the calling thread (with several threads, a kernel's own team is inside its operator), so the
shares are comparable between paths even on a machine other jobs share; wall seconds are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile
from transformers import AutoModelForCausalLM, AutoTokenizer

from benchmarks.scoring import draw_cases, requests_of
from models.autotune import cpu_name
from models.packaged import packaged_model_dir
from models.scoring import HFBackend

GROUPS = {
    "attention kernel": ("attention", "aten::bmm", "aten::baddbmm", "aten::_softmax"),
    "gather, scatter, copy": ("aten::index", "aten::copy_", "aten::index_put", "aten::nonzero", "aten::cat", "pad"),
    "elementwise (norms, rotary, activation, residual)": (
        "aten::mul",
        "aten::add",
        "aten::silu",
        "aten::gelu",
        "aten::pow",
        "aten::mean",
        "aten::rsqrt",
        "aten::neg",
        "aten::div",
        "aten::sum",
        "aten::tanh",
        "aten::sub",
        "aten::where",
    ),
    "log-softmax": ("aten::_log_softmax", "aten::logsumexp", "aten::exp", "aten::max", "aten::amax"),
}


def group_of(operator: str, shapes: str, vocabulary: int) -> str:
    if "linear" in operator or operator in ("aten::addmm", "aten::mm"):
        return "linear layers: LM head" if str(vocabulary) in shapes else "linear layers: body"
    for group, names in GROUPS.items():
        if any(name in operator for name in names):
            return group
    return "other"


def profiled(backend: HFBackend, requests: Sequence[tuple[str, str]], vocabulary: int) -> tuple[float, Counter[str]]:
    """Wall seconds of one scoring call, and CPU seconds per group of operators."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as trace:
        started = time.perf_counter()
        backend.loglikelihoods(requests)
        wall = time.perf_counter() - started
    groups: Counter[str] = Counter()
    for event in trace.key_averages(group_by_input_shape=True):
        groups[group_of(event.key, str(event.input_shapes), vocabulary)] += event.self_cpu_time_total / 1e6
    return wall, groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("options", nargs="+", help='HFBackend options as JSON, e.g. \'{"path": "tree"}\'')
    parser.add_argument("--model", default="smollm2-135m-instruct-q4_1", help="packaged model key")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    directory = packaged_model_dir(args.model)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    requests = requests_of(draw_cases(args.cases))
    print(f"{cpu_name()}, {args.threads} threads; {args.model}, {len(requests)} requests")
    columns: list[tuple[str, float, Counter[str]]] = []
    for text in args.options:
        options: dict[str, Any] = json.loads(text)
        backend = HFBackend(model, tokenizer, label=args.model, **options)
        backend.loglikelihoods(requests[:20])
        wall, groups = profiled(backend, requests, model.config.vocab_size)
        columns.append((text, wall, groups))
    names = sorted({name for _, _, groups in columns for name in groups}, key=lambda name: -columns[0][2][name])
    print("\n| CPU seconds (share) | " + " | ".join(f"`{text}`" for text, _, _ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name in names:
        cells = [f"{groups[name]:.2f} ({groups[name] / sum(groups.values()):.0%})" for _, _, groups in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("| **all operators** | " + " | ".join(f"**{sum(groups.values()):.2f}**" for _, _, groups in columns) + " |")
    print("| wall seconds | " + " | ".join(f"{wall:.2f}" for _, wall, _ in columns) + " |")


if __name__ == "__main__":
    main()
