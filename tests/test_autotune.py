"""The scorer chooses its path by timing candidates on the work itself, remembers the choice, and scores the same
whichever it chooses. Timings come from a fake clock that charges each forward pass by the path that ran it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import PreTrainedModel

from models import autotune, tree_attention
from models.autotune import (
    KERNELS,
    PATHS,
    Layout,
    PlanStore,
    batch_rows,
    best,
    cpu_name,
    layout_cost,
    padded_batches,
    plans_path,
    race,
    settled,
    slice_length,
    slices,
)
from models.cpu_kernels import onednn_available
from models.loading import LoadOptions, load_model
from models.registry import ModelSpec
from models.scoring import HFBackend, Request
from tests.project import results
from tests.test_scoring import REQUESTS, TOLERANCE, naive_loglikelihood

pytestmark = pytest.mark.usefixtures("one_thread")

Cost = Callable[[bool, bool, int, int], float]
"""Seconds a forward pass takes: (through the tree?, oneDNN linears?, rows, tokens computed)."""


class FakeClock:
    """A clock whose seconds pass only in the model's forward passes, charged by ``cost``."""

    def __init__(self, model: PreTrainedModel, cost: Cost) -> None:
        self.model = model
        self.cost = cost
        self.now = 0.0
        self.reads = 0
        self._hook = model.get_input_embeddings().register_forward_hook(self._tick)

    def _tick(self, module: torch.nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        tree = self.model.config._attn_implementation == tree_attention.NAME
        onednn = any("forward" in layer.__dict__ for layer in self.model.modules() if type(layer) is torch.nn.Linear)
        self.now += self.cost(tree, onednn, args[0].shape[0], args[0].numel())

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def close(self) -> None:
        self._hook.remove()


ALPHABETS = ["A B", "X Y", "1 2", "red blue", "cat dog", "left right", "alpha beta", "up down"]
INTROS = ["Continue the pattern.", "Break the pattern at the end.", "Which comes next?", "Answer with one symbol."]


def workload() -> list[Request]:
    """Many prompts that share long prefixes (instruction, alphabet, the pattern so far), as a behaviour's do."""
    requests = []
    for intro in INTROS:
        for alphabet in ALPHABETS:
            first, second = alphabet.split()
            for length in range(3, 14):
                shown = ", ".join((first, second)[index % 2] for index in range(length))
                requests += [(f"{intro}\n{shown},", f" {first}"), (f"{intro}\n{shown},", f" {second}")]
    return requests


@pytest.fixture
def llama(tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[PreTrainedModel, Any]:
    """The tiny Llama (sdpa attention, so packs use the tree layout), with races sized for a tiny workload:
    slices of 192 tokens, packs of 64 or 192 nodes."""
    model, tokenizer = tiny["llama"]
    assert model.config._attn_implementation == "sdpa"
    monkeypatch.setattr(autotune, "SLICE_TOKENS", 192)
    monkeypatch.setattr(autotune, "PACK_SIZES", (64, 192))
    return model, tokenizer


def tuned(llama: Any, cost: Cost, store: PlanStore | None = None, **options: Any) -> tuple[HFBackend, FakeClock]:
    model, tokenizer = llama
    clock = FakeClock(model, cost)
    return HFBackend(model, tokenizer, label="llama", plans=store, clock=clock, **options), clock


def by_kernel(onednn_cost: float, stock_cost: float) -> Cost:
    return lambda tree, onednn, rows, tokens: tokens * (onednn_cost if onednn else stock_cost)


def by_path(tree_cost: float, padded_cost: float, big_passes: float = 1.0) -> Cost:
    """Seconds per token by path, times ``big_passes`` for passes bigger than the small sizes (packs over 64
    nodes, batches over 8 rows): below 1 big passes are cheaper per token, above 1 dearer."""

    def cost(tree: bool, onednn: bool, rows: int, tokens: int) -> float:
        big = tokens > 64 if tree else rows > 8
        return tokens * (tree_cost if tree else padded_cost) * (big_passes if big else 1.0)

    return cost


@pytest.mark.skipif(not onednn_available(), reason="this torch build has no oneDNN linear")
@pytest.mark.parametrize(("onednn_cost", "stock_cost", "chosen"), [(1.0, 3.0, True), (3.0, 1.0, False)])
def test_the_faster_kernel_is_chosen_and_remembered(
    llama: Any, tmp_path: Path, onednn_cost: float, stock_cost: float, chosen: bool
) -> None:
    store = PlanStore(tmp_path / "plans.json")
    backend, clock = tuned(llama, by_kernel(onednn_cost, stock_cost), store)
    requests = workload()
    expected = [naive_loglikelihood(*llama, *request) for request in requests]
    assert backend.loglikelihoods(requests) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    clock.close()
    assert backend.onednn is chosen
    rates = backend.scoring["tuning"]["kernel"]["seconds_per_token"]
    assert rates == pytest.approx({"oneDNN": onednn_cost, "stock": stock_cost})
    again, clock = tuned(llama, by_kernel(onednn_cost, stock_cost), store)
    again.loglikelihoods(requests[:10])
    clock.close()
    assert again.onednn is chosen and again.scoring["tuning"]["kernel"]["how"] == "remembered"


@pytest.mark.parametrize(
    ("cost", "path", "pack_tokens", "batch_size"),
    [
        (by_path(1.0, 4.0, big_passes=0.5), "tree", 192, 16),  # the tree is cheaper, and big passes
        (by_path(200.0, 1.0, big_passes=2.0), "padded", 64, 8),  # padded is cheaper, and small passes
    ],
)
def test_the_faster_layout_is_chosen_and_remembered(
    llama: Any, tmp_path: Path, cost: Cost, path: str, pack_tokens: int, batch_size: int
) -> None:
    """Sizes by rate times the tokens each computes (big packs also share more); the path, per call, likewise."""
    store = PlanStore(tmp_path / "plans.json")
    backend, clock = tuned(llama, cost, store, onednn="off")
    requests = workload()
    expected = [naive_loglikelihood(*llama, *request) for request in requests]
    assert backend.loglikelihoods(requests) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    clock.close()
    assert (backend.pack_tokens, backend.batch_size) == (pack_tokens, batch_size)
    rates = backend.scoring["tuning"]["layout"]["seconds_per_token"]
    assert set(rates) == {"tree/64", "tree/192", "padded/8", "padded/16"}

    again, clock = tuned(llama, cost, store, onednn="off")
    assert again.loglikelihoods(requests) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    clock.close()
    assert clock.reads == 0  # nothing timed: the choice was remembered
    assert (again.pack_tokens, again.batch_size) == (backend.pack_tokens, backend.batch_size)
    assert again.scoring["tuning"]["layout"]["how"] == "remembered"
    inputs = {tuple(sum(again.tokenize_request(*request), [])[:-1]) for request in requests}
    assert again.scoring["inputs"][path] == len(inputs)


def test_the_plan_is_kept_per_cpu_torch_and_model_in_one_json_file(llama: Any, tmp_path: Path) -> None:
    store = PlanStore(tmp_path / "plans.json")
    backend, clock = tuned(llama, by_path(1.0, 2.0), store, onednn="off")
    backend.loglikelihoods(workload())
    clock.close()
    (key, entry), *others = json.loads(store.path.read_text()).items()
    assert not others
    assert key.startswith(f"plan v{autotune.PLAN_VERSION} | {cpu_name()}") and f"torch {torch.__version__}" in key
    assert "LlamaForCausalLM" in key
    assert entry["pack_tokens"] == backend.pack_tokens and entry["batch_size"] == backend.batch_size
    assert sorted(path.name for path in tmp_path.iterdir()) == [".plans.json.lock", "plans.json"]  # no scratch left
    store.update("another machine", onednn=True)
    assert set(json.loads(store.path.read_text())) == {key, "another machine"}
    store.path.write_text("{ half a file")
    assert store.get(key) == {}


def test_a_race_whose_timings_jump_is_used_but_not_remembered(llama: Any, tmp_path: Path) -> None:
    """Every fifth forward pass takes fifty times as long, as when another process takes the core: a candidate's
    two slices disagree, so this session uses the outcome and the next one races again."""
    passes = [0]

    def bursty(tree: bool, onednn: bool, rows: int, tokens: int) -> float:
        passes[0] += 1
        return tokens * (1.0 if tree else 4.0) * (50.0 if passes[0] % 5 == 0 else 1.0)

    store = PlanStore(tmp_path / "plans.json")
    backend, clock = tuned(llama, bursty, store, onednn="off")
    backend.loglikelihoods(workload())
    clock.close()
    assert backend.layout_rates is not None
    assert "not remembered" in backend.scoring["tuning"]["layout"]["how"]
    assert not store.path.exists()


def test_settled_means_every_candidates_slices_agree() -> None:
    assert settled({"a": [1.0, 1.2], "b": [2.0, 2.0]})
    assert not settled({"a": [1.0, 1.3], "b": [2.0, 2.0]})
    assert best({"a": [1.0, 1.3], "b": [2.5, 2.0]}) == {"a": 1.0, "b": 2.0}


def test_too_little_work_is_not_raced(llama: Any, tmp_path: Path) -> None:
    backend, clock = tuned(llama, by_path(1.0, 2.0), PlanStore(tmp_path / "plans.json"))
    backend.loglikelihoods(REQUESTS)
    clock.close()
    assert backend.scoring["tuning"] == {} and not (tmp_path / "plans.json").exists()
    assert backend.onednn is None and backend.layout_rates is None


@pytest.mark.parametrize("onednn", KERNELS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", ["opt", "gpt2", "llama"])
def test_every_forced_path_scores_as_the_naive_scorer(tiny: dict[str, Any], kind: str, path: str, onednn: str) -> None:
    model, tokenizer = tiny[kind]
    backend = HFBackend(model, tokenizer, label=kind, path=path, onednn=onednn, pack_tokens=40, batch_size=3)
    expected = [naive_loglikelihood(model, tokenizer, *request) for request in REQUESTS]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert ("tree" in backend.scoring["inputs"]) == (path != "padded")


def test_options_are_checked(tiny: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="path"):
        HFBackend(*tiny["gpt2"], label="gpt2", path="sideways")
    with pytest.raises(ValueError, match="onednn"):
        HFBackend(*tiny["gpt2"], label="gpt2", onednn="sometimes")


class ScaledLogits(torch.nn.Module):
    """A model that changes its logits after the LM head (as Gemma 2's soft-capping does): the head cannot run
    apart from the body, and the scorer must notice on its own."""

    def __init__(self, inner: PreTrainedModel) -> None:
        super().__init__()
        self.inner = inner
        self.config = inner.config
        self.base_model = inner.base_model

    @property
    def dtype(self) -> torch.dtype:
        return self.inner.dtype

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.inner.get_input_embeddings()

    def get_output_embeddings(self) -> torch.nn.Module:
        return self.inner.get_output_embeddings()

    def forward(self, **kwargs: Any) -> Any:
        output = self.inner(**kwargs)
        output.logits = output.logits * 0.5
        return output


def test_a_model_that_changes_logits_after_its_head_keeps_the_head_in_its_forward(tiny: dict[str, Any]) -> None:
    model, tokenizer = tiny["gpt2"]
    scaled = ScaledLogits(model)
    backend = HFBackend(scaled, tokenizer, label="gpt2", path="padded")  # type: ignore[arg-type]
    expected = [naive_loglikelihood(scaled, tokenizer, *request) for request in REQUESTS]  # type: ignore[arg-type]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert backend.head_deferred is False


def test_slices_alternate_fill_whole_passes_and_refuse_too_little_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autotune, "SLICE_TOKENS", 30)
    inputs = [(index, 1, 1, 1, 1) for index in range(40)]  # five tokens each, sharing nothing
    planned = slices([Layout(False, 4), Layout(True, 12)], inputs, slice_length)
    assert planned is not None
    assert [str(layout) for layout, _ in planned] == ["padded/4", "tree/12", "tree/12", "padded/4"]
    assert [len(rows) for _, rows in planned] == [8, 6, 6, 8]  # two batches of 4 (40 cells); 3 packs of 2 inputs
    assert slices([Layout(False, 4), Layout(True, 12)], inputs[:20], slice_length) is None


def test_a_race_times_only_the_candidates_own_work() -> None:
    now = [0.0]
    seconds_per_token = {"fast": 1.0, "slow": 2.0}

    def run(candidate: str, rows: Any) -> Iterator[list[tuple[int, float]]]:
        for row in rows:
            now[0] += seconds_per_token[candidate] * len(row)
            yield [(0, 0.0)]

    planned = [("fast", [(1, 2)]), ("slow", [(1, 2)]), ("slow", [(3,)]), ("fast", [(3,)])]
    results = race(planned, run, lambda candidate, rows: sum(map(len, rows)), lambda: now[0])
    for _ in results_until_done(results, now):
        pass


def results_until_done(results: Any, now: list[float]) -> Iterator[Any]:
    """Drain a race while the consumer spends time of its own on every yielded batch (which must not count)."""
    while True:
        try:
            yield next(results)
        except StopIteration as done:
            assert done.value == {"fast": [1.0, 1.0], "slow": [2.0, 2.0]}
            return
        now[0] += 100.0


def test_layout_costs_count_tree_nodes_and_padded_cells() -> None:
    inputs = [(1, 2, 3, 4), (1, 2, 3, 5), (1, 2), (7,)]
    assert layout_cost(Layout(True, 100), inputs) == 4 + 1 + 1  # (1, 2) is inside the first path
    assert layout_cost(Layout(False, 2), inputs) == 4 * 2 + 2 * 2
    assert str(Layout(True, 256)) == "tree/256" and str(Layout(False, 8)) == "padded/8"


def test_a_padded_batch_holds_its_size_in_inputs_or_a_pass_worth_of_cells_whichever_is_less() -> None:
    assert padded_batches([(1,) * 50] * 20, 16) == [(50, 16, True), (50, 4, False)]
    assert padded_batches([(1,) * 100] * 20, 16) == [(100, 10, True), (100, 10, True)]
    assert padded_batches([(1,) * 800] * 2, 16) == [(800, 1, True), (800, 1, True)]
    assert batch_rows(5000, 16) == 1


def test_load_options_reach_the_scorer_and_a_local_load_draws_no_bar(
    tiny_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCALECHECK_CACHE", str(tmp_path))
    monkeypatch.setattr(autotune, "plans_path", plans_path)  # the real rule, which tests/conftest.py redirects
    spec = ModelSpec(label="tiny", source="path", ref=str(tiny_dirs["gpt2"]))
    options = LoadOptions(device="cpu", dtype=torch.float32, batch_size=3, scoring_path="padded", onednn="off")
    model, facts = load_model(spec, options, lambda _: None)
    backend = model.backend
    assert isinstance(backend, HFBackend)
    assert (backend.path, backend.onednn, backend.batch_size) == ("padded", False, 3)
    assert backend.plans is not None and backend.plans.path == tmp_path / "scoring-plans.json"
    assert facts["scoring"] is backend.scoring
    model.close()
    assert "Loading weights" not in capfd.readouterr().err


def test_the_run_records_the_cpu_and_each_models_scoring_choices(suite: pytest.Pytester) -> None:
    suite.runpytest("behaviours/", "--model-family", "scripted", "--examples", "20", "--scoring-path", "padded")
    run = results(suite)["run"]
    assert run["cpu"] == cpu_name()
    assert set(run["scoring"]) == {"obeys", "completes"}  # scripted models choose nothing: None each
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--scoring-path", "sideways")
    assert outcome.ret == pytest.ExitCode.USAGE_ERROR


def _remember(store: PlanStore, backend: HFBackend, **fields: Any) -> None:
    store.update(backend._plan_key(), **fields)


@pytest.mark.parametrize(
    "entry",
    [
        {"pack_tokens": 64, "batch_size": 8, "layout_seconds_per_token": {"tree/64": None, "padded/8": 1.0}},
        {"pack_tokens": 64, "batch_size": 8, "layout_seconds_per_token": {"tree/64": "fast", "padded/8": 1.0}},
        {"pack_tokens": 0, "batch_size": 8, "layout_seconds_per_token": {"tree/0": 1.0, "padded/8": 1.0}},
        {"pack_tokens": True, "batch_size": 8, "layout_seconds_per_token": {"tree/1": 1.0, "padded/8": 1.0}},
        {"pack_tokens": 64, "batch_size": 8, "layout_seconds_per_token": {"tree/64": float("inf"), "padded/8": 1.0}},
        {"pack_tokens": 64, "batch_size": 8, "layout_seconds_per_token": ["tree/64"]},
        {"pack_tokens": 64, "batch_size": 8, "layout_seconds_per_token": {"tree/256": 1.0}},
    ],
)
def test_a_damaged_plan_entry_is_not_used_and_the_race_runs_again(
    llama: Any, tmp_path: Path, entry: dict[str, Any]
) -> None:
    """A plan file is read back from disk: an edited or damaged entry must neither crash scoring nor decide."""
    store = PlanStore(tmp_path / "plans.json")
    backend, clock = tuned(llama, by_path(1.0, 2.0), store, onednn="off")
    _remember(store, backend, **entry)
    requests = workload()
    expected = [naive_loglikelihood(*llama, *request) for request in requests]
    assert backend.loglikelihoods(requests) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    clock.close()
    assert backend.scoring["tuning"]["layout"]["how"] == "measured" and clock.reads > 0


def test_a_plan_that_measured_only_padded_batches_sends_nothing_down_the_tree(llama: Any, tmp_path: Path) -> None:
    store = PlanStore(tmp_path / "plans.json")
    backend, clock = tuned(llama, by_path(1.0, 2.0), store, onednn="off")
    _remember(store, backend, pack_tokens=64, batch_size=8, layout_seconds_per_token={"padded/8": 1e-9})
    backend.loglikelihoods(workload())
    clock.close()
    assert clock.reads == 0 and set(backend.scoring["inputs"]) == {"padded"}


def test_a_plan_store_that_cannot_be_written_is_reported_and_scoring_goes_on(llama: Any, tmp_path: Path) -> None:
    (tmp_path / "a file").write_text("")
    store = PlanStore(tmp_path / "a file" / "plans.json")
    lines: list[str] = []
    model, tokenizer = llama
    clock = FakeClock(model, by_path(1.0, 2.0))
    backend = HFBackend(model, tokenizer, label="llama", plans=store, clock=clock, onednn="off", notify=lines.append)
    requests = workload()
    expected = [naive_loglikelihood(*llama, *request) for request in requests]
    assert backend.loglikelihoods(requests) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    clock.close()
    assert "could not be written" in backend.scoring["tuning"]["layout"]["how"]
    assert any(line.startswith("llama: timing layout candidates") for line in lines)
    assert any("could not be written" in line and "tree packs of" in line for line in lines)


def _fill(path: str, prefix: str) -> None:
    store = PlanStore(Path(path))
    for number in range(40):
        store.update(f"{prefix}{number}", onednn=True)


def test_two_processes_updating_the_plan_file_at_once_lose_no_entry(tmp_path: Path) -> None:
    import multiprocessing

    path = str(tmp_path / "plans.json")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_fill, args=(path, prefix)) for prefix in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert len(json.loads(Path(path).read_text())) == 80
