"""The persistent score cache: exact reuse, isolation by fingerprint, concurrent writers, resuming, invalidation."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from models import under_test
from models.loading import LoadOptions, load_model
from models.registry import ModelSpec
from models.score_cache import ScoreStore, checkpoint_identity, model_fingerprint
from models.scoring import SCORER_VERSION
from models.under_test import ModelUnderTest
from tests.project import results
from tests.scripted import ScriptedBackend, obeys, with_rate
from tests.tiny_models import build_tiny_model, load_tiny_model

REQUESTS = [(f"A, B, A, B{',' * (i % 3)} {i}", continuation) for i in range(12) for continuation in (" A", " B")]


class CountingBackend:
    """Scores a request by its length; counts what it was asked; may fail after some calls (a killed run)."""

    def __init__(self, fingerprint: str | None = "model-a", fail_after_calls: int | None = None) -> None:
        self.label = "counting"
        self.fingerprint = fingerprint
        self.fail_after_calls = fail_after_calls
        self.asked: list[tuple[str, str]] = []
        self.calls = 0

    def loglikelihoods(
        self, requests: Sequence[tuple[str, str]], *, progress: Callable[[int], None] | None = None
    ) -> list[float]:
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt
        self.calls += 1
        self.asked.extend(requests)
        if progress is not None:
            progress(len(requests))
        return [-float(len(context) + len(continuation)) / 7 for context, continuation in requests]

    def close(self) -> None:
        pass


def test_stored_scores_come_back_exactly_and_only_for_their_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "scores.sqlite"
    first = ScoreStore(path, "model-a")
    first.put_many([(("ctx", " A"), -0.1234567890123), (("ctx", " B"), -2.5)])
    first.close()
    again, other = ScoreStore(path, "model-a"), ScoreStore(path, "model-b")
    assert again.get_many([("ctx", " A"), ("ctx", " B"), ("ctx", " C")]) == {
        ("ctx", " A"): -0.1234567890123,
        ("ctx", " B"): -2.5,
    }
    assert other.get_many([("ctx", " A")]) == {}
    with pytest.raises(RuntimeError, match="closed"):
        first.get_many([("ctx", " A")])


def test_a_rerun_does_no_model_work(tmp_path: Path) -> None:
    path = tmp_path / "scores.sqlite"
    first = ModelUnderTest(backend=CountingBackend(), label="m", store=ScoreStore(path, "model-a"))
    expected = first.loglikelihoods(REQUESTS)
    first.close()
    backend = CountingBackend()
    rerun = ModelUnderTest(backend=backend, label="m", store=ScoreStore(path, "model-a"))
    done: list[int] = []
    assert rerun.prefetch(REQUESTS, progress=done.append) == 0
    assert rerun.loglikelihoods(REQUESTS) == expected
    assert backend.calls == 0 and done == [len(REQUESTS)]


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(under_test, "STORE_EVERY", 5)
    path = tmp_path / "scores.sqlite"
    killed = ModelUnderTest(backend=CountingBackend(fail_after_calls=2), label="m", store=ScoreStore(path, "model-a"))
    with pytest.raises(KeyboardInterrupt):
        killed.prefetch(REQUESTS)
    backend = CountingBackend()
    resumed = ModelUnderTest(backend=backend, label="m", store=ScoreStore(path, "model-a"))
    done: list[int] = []
    assert resumed.prefetch(REQUESTS, progress=done.append) == len(REQUESTS) - 10
    assert len(backend.asked) == len(REQUESTS) - 10
    assert done[0] == 10 and done[-1] == len(REQUESTS)
    assert resumed.loglikelihoods(REQUESTS) == CountingBackend().loglikelihoods(REQUESTS)


def _write_scores(path: str, worker: int) -> None:
    store = ScoreStore(Path(path), "model-a")
    for start in range(0, 200, 10):
        store.put_many([((f"prompt {n}", " A"), float(n)) for n in range(start, start + 10)])
        store.put_many([((f"worker {worker} prompt {n}", " B"), -float(n)) for n in range(start, start + 10)])
        store.get_many([(f"prompt {n}", " A") for n in range(start)])
    store.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """Four processes writing overlapping and distinct rows at once, as pytest-xdist workers do."""
    path = tmp_path / "scores.sqlite"
    ScoreStore(path, "model-a").close()
    context = multiprocessing.get_context("spawn" if os.name != "posix" else "fork")
    workers = [context.Process(target=_write_scores, args=(str(path), worker)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0, 0, 0, 0]
    store = ScoreStore(path, "model-a")
    shared = [(f"prompt {n}", " A") for n in range(200)]
    own = [(f"worker {worker} prompt {n}", " B") for worker in range(4) for n in range(200)]
    assert store.get_many(shared) == {request: float(n) for n, request in enumerate(shared)}
    assert len(store.get_many(own)) == 800


def test_a_backend_without_fingerprint_gets_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALECHECK_CACHE", str(tmp_path))
    spec = ModelSpec(label="scripted", source="python", ref="tests.scripted:completes_pattern")
    model, _ = load_model(spec, LoadOptions(device="cpu", dtype=torch.float32, score_cache=True), lambda _: None)
    assert model.store is None
    model.close()


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-checkpoints")
    return {kind: build_tiny_model(kind, root / kind) for kind in ("gpt2", "llama")}


def fingerprint_of(directory: Path, dtype: torch.dtype = torch.float32, scorer_version: int = SCORER_VERSION) -> str:
    model, tokenizer = load_tiny_model(directory)
    model = model.to(dtype)
    identity = checkpoint_identity(str(directory), model.config)
    assert identity is not None
    return model_fingerprint(model, tokenizer, identity, scorer_version=scorer_version)


def test_fingerprint_changes_with_weights_dtype_tokenizer_config_and_scorer(
    tiny_checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    directory = tiny_checkpoints["llama"]
    base = fingerprint_of(directory)
    assert fingerprint_of(directory) == base
    assert fingerprint_of(directory, dtype=torch.bfloat16) != base
    assert fingerprint_of(directory, scorer_version=SCORER_VERSION + 1) != base
    retrained = build_tiny_model("llama", tmp_path / "retrained", seed=1)
    assert fingerprint_of(retrained) != base
    other_tokenizer = tmp_path / "other-tokenizer"
    build_tiny_model("llama", other_tokenizer)
    (other_tokenizer / "tokenizer_config.json").write_text(
        (other_tokenizer / "tokenizer_config.json").read_text().replace('"<s>"', '"</s>"')
    )
    assert fingerprint_of(other_tokenizer) != fingerprint_of(tmp_path / "retrained")
    weights = next(directory.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000_000))
    assert fingerprint_of(directory) != base


def test_hub_models_are_identified_by_their_commit() -> None:
    class Config:
        _commit_hash = "0123abcd"

    assert checkpoint_identity("org/model", Config()) == {"hub": "org/model", "commit": "0123abcd"}
    assert checkpoint_identity("org/model", object()) is None


def test_a_reloaded_local_model_answers_from_the_store(
    tiny_checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALECHECK_CACHE", str(tmp_path))
    spec = ModelSpec(label="tiny", source="path", ref=str(tiny_checkpoints["gpt2"]))
    options = LoadOptions(device="cpu", dtype=torch.float32, score_cache=True)
    first, _ = load_model(spec, options, lambda _: None)
    expected = first.loglikelihoods(REQUESTS)
    first.close()
    again, _ = load_model(spec, options, lambda _: None)
    assert again.store is not None and again.store.path == tmp_path / "scores.sqlite"
    forward_passes: list[int] = []
    again.backend.model.register_forward_hook(lambda *args: forward_passes.append(1))
    assert again.loglikelihoods(REQUESTS) == expected
    assert forward_passes == []
    again.close()
    uncached, _ = load_model(spec, LoadOptions(device="cpu", dtype=torch.float32), lambda _: None)
    assert uncached.store is None
    uncached.close()


def remembers(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    """A scripted model with a fingerprint, so the suite keeps its scores: ``obeys``, or ``name@rate`` as
    ``with_rate`` answers."""
    backend = (with_rate if "@" in spec.label else obeys)(spec=spec, device=device, dtype=dtype)
    backend.fingerprint = f"scripted-{spec.label}"  # type: ignore[attr-defined]
    SCORED.append(backend)
    return backend


SCORED: list[ScriptedBackend] = []


@pytest.mark.parametrize(
    ("label", "examples", "blocks"),
    [("obeys", "20", [20]), ("m@0.50", "100", [20, 40, 60, 80, 100])],
    ids=["one-block", "block-by-block-to-the-cap"],
)
def test_a_rerun_of_the_suite_scores_nothing_unless_the_cache_is_off(
    suite: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, label: str, examples: str, blocks: list
) -> None:
    monkeypatch.setenv("SCALECHECK_CACHE", str(tmp_path / "cache"))
    suite.makepyprojecttoml(
        f'[tool.scalecheck.families.remembering]\nsizes = [{{label = "{label}", python = "tests.test_score_cache:remembers"}}]'
    )
    arguments = ["behaviours/", "--model-family", "remembering", "--examples", examples, "--sequential"]
    arguments += ["-p", "no:cacheprovider"]
    SCORED.clear()
    runs = []
    for extra in ([], [], ["--no-score-cache"]):
        suite.runpytest(*arguments, *extra)
        row = results(suite)["results"][0]
        runs.append((row["status"], row["stopping"]["blocks"]))
    assert [backend.requests_scored > 0 for backend in SCORED] == [True, False, True]
    assert runs[0][1] == blocks and runs == [runs[0]] * 3
