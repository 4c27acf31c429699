"""Score the same repetition-suppression requests three ways, side by side in one process, and print a table.

    benchmarks/setup.sh                                              # once: benchmarks/.venv with lm-eval
    benchmarks/.venv/bin/python -m benchmarks.scoring --model smollm2-135m-instruct-q4_1 --cases 1000

(a) scalecheck: ``ModelUnderTest.prefetch`` as the suite calls it, with a fresh persistent score cache and no
    remembered scoring plan (so its time includes timing the candidate paths on this CPU, as a new user's first run
    does), then the same again from a new ``ModelUnderTest`` (a rerun: no model work);
(b) lm-evaluation-harness: ``HFLM.loglikelihood`` on the identical (context, continuation) requests, given the
    same model object, ``add_bos_token`` set to what scalecheck prepends (the tokenizer's default prefix);
(c) the floor: one length-sorted, left-padded batched forward pass over the distinct scored inputs, LM head only
    at the scored positions, nothing else.

(a) and (b) must agree per request within 1e-4, or the run fails. On a shared machine only ratios measured in one
run mean anything; CPU seconds (this process, all threads) are printed beside wall seconds for that reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from generators import Case, repetition_suppression_cases
from models.autotune import Layout, PlanStore, cpu_description, cpu_name, layout_cost
from models.packaged import packaged_model_dir
from models.score_cache import ScoreStore, checkpoint_identity, model_fingerprint
from models.scoring import PACK_TOKENS, SCORER_VERSION, HFBackend, Request, left_padded
from models.tokens import added_prefix
from models.under_test import ModelUnderTest

TOLERANCE = 1e-4


@dataclass
class Row:
    method: str
    wall: float
    cpu: float
    values: list[float] | None = None
    note: str = ""


def draw_cases(count: int, repetitions: int | None = None) -> list[Case]:
    """The first ``count`` distinct cases Hypothesis draws with seed 0, as the suite's counting pass draws them."""
    cases: dict[str, Case] = {}
    strategy = repetition_suppression_cases(repetition=None if repetitions is None else st.just(repetitions))

    @seed(0)
    @settings(
        max_examples=20 * count,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def collect(case: Case) -> None:
        if len(cases) < count:
            cases.setdefault(case.id, case)

    collect()
    return list(cases.values())


def requests_of(cases: Sequence[Case]) -> list[Request]:
    return list(dict.fromkeys((case.prompt, continuation) for case in cases for continuation in case.classes))


def timed(method: str, work: Callable[[], list[float] | None], note: str = "") -> Row:
    started, cpu = time.perf_counter(), time.process_time()
    values = work()
    row = Row(method, time.perf_counter() - started, time.process_time() - cpu, values, note)
    print(f"  {method}: {row.wall:.1f} s wall, {row.cpu:.1f} s CPU  (load average {os.getloadavg()[0]:.1f})")
    return row


def scored_inputs(backend: HFBackend, requests: Sequence[Request]) -> dict[tuple[int, ...], int]:
    """Each distinct scored input (context + continuation minus its last token) and how many positions to keep."""
    inputs: dict[tuple[int, ...], int] = {}
    for request in requests:
        context, continuation = backend.tokenize_request(*request)
        key = tuple(context + continuation)[:-1]
        inputs[key] = max(inputs.get(key, 0), len(continuation))
    return inputs


def token_counts(inputs: dict[tuple[int, ...], int], batch_size: int, pack_tokens: int) -> dict[str, int]:
    """How many tokens each way of laying out the inputs computes."""
    trie = {key[:end] for key in inputs for end in range(1, len(key) + 1)}
    return {
        "distinct inputs": len(inputs),
        "tokens in distinct inputs": sum(len(key) for key in inputs),
        f"tokens computed, padded batches of {batch_size}": layout_cost(Layout(False, batch_size), inputs),
        "prefix-tree nodes (all inputs in one tree)": len(trie),
        f"prefix-tree nodes computed (packs of {pack_tokens})": layout_cost(Layout(True, pack_tokens), inputs),
    }


def plan_of(backend: HFBackend) -> str:
    """What the scorer chose, in a few words: path(s) taken, kernels, sizes."""
    scoring = backend.scoring
    paths = " + ".join(f"{path} ({count} inputs)" for path, count in scoring["inputs"].items() if count)
    kernels = {True: "oneDNN linears", False: "stock linears", None: "oneDNN linears (not raced)"}[backend.onednn]
    return f"{paths}; {kernels}; packs of {backend.pack_tokens}, batches of {backend.batch_size}"


def floor(model: PreTrainedModel, inputs: dict[tuple[int, ...], int], pad_id: int, batch_size: int) -> None:
    """(c): forward passes over length-sorted, left-padded distinct inputs, logits only where scored."""
    ordered = sorted(inputs, key=len, reverse=True)
    with torch.inference_mode():
        for start in range(0, len(ordered), batch_size):
            rows = ordered[start : start + batch_size]
            input_ids, attention_mask, position_ids = left_padded(rows, pad_id)
            keep = max(inputs[row] for row in rows)
            logits = model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                logits_to_keep=keep,
                use_cache=False,
            ).logits
            torch.log_softmax(logits.float(), dim=-1)


def lm_eval_scores(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, requests: Sequence[Request], batch_size: int
) -> list[float]:
    """(b): lm-eval's HFLM on the same model object. ``add_bos_token`` is set to whether the tokenizer's default
    encoding prepends anything, which is exactly the prefix scalecheck scores with (``added_prefix``)."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    harness = HFLM(
        pretrained=model,
        tokenizer=tokenizer,
        batch_size=batch_size,
        device=str(model.device),
        add_bos_token=bool(added_prefix(tokenizer)),
    )
    instances = [
        Instance(request_type="loglikelihood", doc={}, arguments=request, idx=index)
        for index, request in enumerate(requests)
    ]
    return [logprob for logprob, _ in harness.loglikelihood(instances, disable_tqdm=True)]


def load_costs(key: str) -> list[dict[str, Any]]:
    """Two loads of the packaged model, each in a fresh process: the first may convert the GGUF, the second is the
    load every later session pays."""
    costs = []
    for _ in range(2):
        output = subprocess.run(
            [sys.executable, "-m", "benchmarks.load_probe", key], check=True, capture_output=True, text=True
        ).stdout
        costs.append(json.loads(output.strip().splitlines()[-1]))
    return costs


def print_table(rows: Sequence[Row], requests: int, reference: Row) -> None:
    print("\n| method | wall s | CPU s | requests/s | throughput vs lm-eval (wall) | (CPU) | note |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(
            f"| {row.method} | {row.wall:.1f} | {row.cpu:.1f} | {requests / row.wall:.1f} | "
            f"{reference.wall / row.wall:.2f}x | {reference.cpu / row.cpu:.2f}x | {row.note} |"
        )


def agreement(got: Sequence[float], reference: Sequence[float]) -> float:
    return max(abs(a - b) for a, b in zip(got, reference, strict=True))


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        return run(parse_arguments(), Path(scratch))


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m-instruct-q4_1", help="packaged model key")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=16, help="lm-eval's and the floor's prompts per pass")
    parser.add_argument(
        "--ablations", action="store_true", help="also each path and kernel forced, at the sizes chosen"
    )
    parser.add_argument("--bfloat16", action="store_true", help="also the inexact bfloat16 mode, with its error")
    parser.add_argument("--scaling", default="", help="case counts for scalecheck alone, e.g. 250,1000,4000")
    parser.add_argument("--lengths", default="", help="repetition counts for a prompt-length sweep, e.g. 3,6,10")
    parser.add_argument("--skip-load", action="store_true", help="skip the fresh-process load measurements")
    return parser.parse_args()


def run(args: argparse.Namespace, scratch: Path) -> int:
    """The whole benchmark; ``scratch`` holds its fresh score cache and scoring plans."""
    print(f"machine: {cpu_name()}; {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_load:
        print(f"\nloading {args.model} in fresh processes ...")
        for number, cost in enumerate(load_costs(args.model), start=1):
            during = cost["peak_rss"] - cost["baseline_rss"]
            print(
                f"  load {number}: {cost['seconds']:.2f} s; peak RSS {cost['peak_rss'] / 2**20:.0f} MiB, "
                f"{during / 2**20:.0f} MiB above the {cost['baseline_rss'] / 2**20:.0f} MiB after imports = "
                f"{during / cost['weights_bytes']:.2f}x the {cost['weights_bytes'] / 2**20:.0f} MiB of float32 weights; "
                f"after the first scored request {(cost['peak_rss_after_first_score'] - cost['baseline_rss']) / 2**20:.0f}"
                f" MiB = {(cost['peak_rss_after_first_score'] - cost['baseline_rss']) / cost['weights_bytes']:.2f}x"
            )

    directory = packaged_model_dir(args.model)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    cases = draw_cases(args.cases)
    requests = requests_of(cases)
    probe = HFBackend(model, tokenizer, label=args.model)
    inputs = scored_inputs(probe, requests)
    print(f"\n{len(cases)} cases, {len(requests)} requests on {args.model} (float32)")
    for name, value in token_counts(inputs, args.batch_size, PACK_TOKENS).items():
        print(f"  {name}: {value}")

    print("\nscoring ...")
    reference = timed(
        f"(b) lm-eval {_version('lm_eval')} HFLM.loglikelihood, batch {args.batch_size}",
        lambda: lm_eval_scores(model, tokenizer, requests, args.batch_size),
    )
    rows = [reference]
    rows.append(
        timed(
            f"(c) floor: sorted padded batches of {args.batch_size}, LM head only where scored",
            lambda: floor(model, inputs, probe._pad_id, args.batch_size),
        )
    )
    fingerprint = model_fingerprint(
        model, tokenizer, checkpoint_identity(str(directory), model.config) or {}, scorer_version=SCORER_VERSION
    )
    store_path = scratch / "scores.sqlite"
    plans = PlanStore(scratch / "scoring-plans.json")
    chosen: list[HFBackend] = []

    def suite_path(store: Path = store_path) -> list[float]:
        backend = HFBackend(model, tokenizer, label=args.model, plans=plans, notify=lambda line: print(f"  {line}"))
        chosen.append(backend)
        under_test = ModelUnderTest(backend, args.model, store=ScoreStore(store, fingerprint))
        under_test.prefetch(requests)
        return under_test.loglikelihoods(requests)

    rows.append(timed("(a) scalecheck, first run on this machine (paths timed, score cache written)", suite_path))
    rows[-1].note = plan_of(chosen[-1])
    calls: list[int] = []
    hook = model.get_input_embeddings().register_forward_hook(lambda *_: calls.append(1))
    rows.append(timed("(a) scalecheck rerun: answered by the persistent score cache", suite_path))
    hook.remove()
    rows[-1].note = f"{len(calls)} forward passes"
    rows.append(
        timed(
            "(a) scalecheck, a later session: plan remembered, empty score cache",
            lambda: suite_path(scratch / "later-scores.sqlite"),
        )
    )
    rows[-1].note = plan_of(chosen[-1])
    auto = chosen[0]
    if args.ablations:
        sizes = {"pack_tokens": auto.pack_tokens, "batch_size": auto.batch_size}
        for path, onednn in (("tree", "on"), ("padded", "on"), ("tree", "off"), ("padded", "off")):
            backend = HFBackend(model, tokenizer, label=args.model, path=path, onednn=onednn, **sizes)
            name = f"forced: {path}, {'oneDNN' if onednn == 'on' else 'stock kernels'}, sizes as chosen"
            rows.append(timed(name, lambda backend=backend: backend.loglikelihoods(requests)))
    if args.bfloat16:
        cpu = cpu_description()
        units = "native bfloat16 (avx512_bf16)" if cpu["avx512_bf16"] else "no native bfloat16 units"
        low = HFBackend(model.to(torch.bfloat16), tokenizer, label=args.model, notify=lambda line: print(f"  {line}"))
        row = timed(f"inexact option: scalecheck --dtype bfloat16 ({units})", lambda: low.loglikelihoods(requests))
        model.to(torch.float32)
        assert row.values is not None and rows[2].values is not None
        errors = [abs(a - b) for a, b in zip(row.values, rows[2].values, strict=True)]
        row.note = (
            f"vs float32 on all {len(errors)} requests: max abs error {max(errors):.3f} nats, "
            f"median {statistics.median(errors):.4f}; {plan_of(low)}"
        )
        rows.append(row)

    worst = 0.0
    assert reference.values is not None
    for row in rows[2:]:
        if row.values is not None and "bfloat16" not in row.method:
            error = agreement(row.values, reference.values)
            worst = max(worst, error)
            row.note = "; ".join(filter(None, [row.note, f"max abs diff vs lm-eval {error:.1e}"]))
    print_table(rows, len(requests), reference)
    if worst > TOLERANCE:
        print(f"\nFAILED: scalecheck and lm-eval disagree by up to {worst:.2e} > {TOLERANCE} on identical requests")
        return 1
    print(f"\nscalecheck and lm-eval agree on all {len(requests)} requests within {worst:.1e} (<= {TOLERANCE})")

    sweeps = [(f"{count} cases", draw_cases(count)) for count in _numbers(args.scaling)]
    sweeps += [(f"250 cases, r={r}", draw_cases(250, repetitions=r)) for r in _numbers(args.lengths)]
    lines = []
    for name, sweep_cases in sweeps:
        sweep = requests_of(sweep_cases)
        backend = HFBackend(model, tokenizer, label=args.model, plans=plans)
        sweep_inputs = scored_inputs(backend, sweep)
        row = timed(name, lambda backend=backend, sweep=sweep: backend.loglikelihoods(sweep))
        tokens = token_counts(sweep_inputs, backend.batch_size, backend.pack_tokens)
        lines.append(
            f"| {name} | {len(sweep)} | {len(sweep_inputs)} | {tokens['tokens in distinct inputs'] / len(sweep_inputs):.1f}"
            f" | {tokens[f'prefix-tree nodes computed (packs of {backend.pack_tokens})']} | {row.wall:.1f} |"
            f" {1000 * row.wall / len(sweep):.1f} | {plan_of(backend)} |"
        )
    if lines:
        print(
            "\n| cases | requests | distinct inputs | mean input tokens | tree nodes | scalecheck s | ms/request | plan |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        print("\n".join(lines))
    return 0


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution.replace("_", "-"))


if __name__ == "__main__":
    sys.exit(main())
