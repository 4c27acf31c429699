"""Test-suite wiring: real-model tests run only when asked (CI asks); a scalecheck-shaped project for pytester."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from models import autotune
from tests.project import make_project
from tests.tiny_models import KINDS, build_tiny_model, load_tiny_model

pytest_plugins = ("pytester",)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the tests that load real models")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("run_slow"):
        return
    skip = pytest.mark.skip(reason="loads a real model: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def scoring_plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never read or write the developer's remembered scoring plans (models/autotune.py)."""
    path = tmp_path_factory.mktemp("plans") / autotune.PLANS_FILE
    patch = pytest.MonkeyPatch()
    patch.setattr(autotune, "plans_path", lambda: path)
    yield
    patch.undo()


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch believes there are two GPUs: enough to test what is asked of transformers, never to run on them."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project laid out like scalecheck's, with the real behaviour file and scripted families."""
    return make_project(pytester)


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build_tiny_model(kind, root / kind) for kind in KINDS}


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a shared machine a 2-thread OpenMP team that waits for a
    preempted thread makes the suite many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tiny_dirs: dict[str, Path]) -> dict[str, tuple[Any, Any]]:
    """The tiny OPT, GPT-2 and Llama models and their tokenizers (tests/tiny_models.py), loaded once per module."""
    return {kind: load_tiny_model(directory) for kind, directory in tiny_dirs.items()}
