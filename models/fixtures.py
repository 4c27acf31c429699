"""pytest face of the model package: which models a session runs, and the ``lm`` fixture that holds one at a time.

Every test that asks for ``lm`` is parametrized over the session's models (ordered by size). The fixture is
session-scoped and pytest keeps one cached value per fixture, so when the next model is requested the previous
one is torn down first: items are ordered model by model, and each model is loaded once and freed before the
next loads.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from models.autotune import KERNELS, PATHS, cpu_name
from models.device import (
    DEVICE_CHOICES,
    DTYPES,
    check_placement,
    dtype_name,
    free_memory,
    parse_dtype,
    resolve_device,
    resolve_dtype,
)
from models.loading import BACKENDS, LoadError, LoadOptions, Notify, load_model
from models.packaged import PackageNotInstalledError
from models.registry import Family, ModelSpec, RegistryError, load_families, resolve_models
from models.under_test import ModelUnderTest
from models.vllm_backend import check_vllm


@dataclass
class SessionModels:
    """What the session runs and what was learnt loading each model (read by the report)."""

    family: Family
    options: LoadOptions
    loads: dict[str, dict[str, object]] = field(default_factory=dict)
    cpu: str = field(default_factory=cpu_name)
    """The CPU this session scores on (vendor, model, AVX-512/AMX): scoring speed and the chosen path depend on it."""

    def dtype(self) -> str:
        """The dtype the models were loaded in, as each load recorded it (under pytest-xdist, the worker that loaded
        it), in the family's order. Until one has loaded, the dtype asked for: ``auto`` on a GPU stays ``auto``, since
        resolving it initialises CUDA, which only a process that loads a model may do."""
        used = [
            str(self.loads[spec.label]["dtype"])
            for spec in self.family.sizes
            if "dtype" in self.loads.get(spec.label, {})
        ]
        if used:
            return ", ".join(dict.fromkeys(used))
        if self.options.dtype is None and self.options.device.startswith("cuda"):
            return "auto"
        return dtype_name(resolve_dtype(self.options.dtype, self.options.device))


SESSION_MODELS = pytest.StashKey[SessionModels]()


class ModelFailed(pytest.fail.Exception):
    """A model that could not be loaded (the ``lm`` fixture) or failed while scoring, in one line: the items of
    that model error, with the cause in results.json, and the run goes on to the next size."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scalecheck models", "scalecheck: which models to check")
    group.addoption("--model-family", default=None, help="family to run (default: offline, the two packaged models)")
    group.addoption("--model-sizes", default=None, help="comma-separated subset of the family's sizes, e.g. 125m,1.3b")
    group.addoption(
        "--model-path", action="append", default=[], help="local checkpoint directory (repeatable, run in order given)"
    )
    group.addoption("--device", default="auto", help=f"{DEVICE_CHOICES} (default auto: first GPU if any)")
    group.addoption(
        "--dtype", default="auto", help=f"auto|{'|'.join(DTYPES)} (default auto: float32 on CPU, bfloat16 on GPU)"
    )
    group.addoption(
        "--shard",
        action="store_true",
        help="load every model with device_map=auto over the visible GPUs, even one that fits a single GPU",
    )
    group.addoption(
        "--max-gpu-memory",
        default=None,
        help="cap each GPU's share of a sharded model (accelerate max_memory), e.g. 70GiB",
    )
    group.addoption(
        "--backend",
        default="transformers",
        choices=BACKENDS,
        help="score with transformers (default) or vLLM (prompt log-probs; only where vLLM is installed)",
    )
    group.addoption(
        "--batch-size",
        type=int,
        default=None,
        help="prompts per padded forward pass (default: measured on a CPU, 16 on a GPU); halves itself on OOM",
    )
    group.addoption(
        "--scoring-path",
        default="auto",
        choices=PATHS,
        help="auto: whichever of prefix tree and padded batches was measured faster on this CPU for this model "
        "(timed at the first scoring call, remembered in $SCALECHECK_CACHE/scoring-plans.json); tree or padded "
        "force one. Scores are the same either way",
    )
    group.addoption(
        "--onednn",
        default="auto",
        choices=KERNELS,
        help="float32 linear layers on the CPU through oneDNN: auto measures them against the stock kernels",
    )
    group.addoption(
        "--no-score-cache",
        action="store_true",
        help="neither read nor write the persistent score cache ($SCALECHECK_CACHE/scores.sqlite)",
    )
    group.addoption(
        "--trust-remote-code",
        action="store_true",
        help="let checkpoints whose config has an auto_map run their own Python code (only checkpoints you trust)",
    )
    group.addoption(
        "--allow-pickle",
        action="store_true",
        help="load pickle weights (pytorch_model.bin) of checkpoints without safetensors (unpickling can run code)",
    )


def pytest_configure(config: pytest.Config) -> None:
    sizes = config.getoption("model_sizes")
    try:
        device = resolve_device(config.getoption("device"))
        options = LoadOptions(
            device=device,
            dtype=parse_dtype(config.getoption("dtype")),
            shard=config.getoption("shard"),
            max_gpu_memory=config.getoption("max_gpu_memory"),
            backend=config.getoption("backend"),
            batch_size=config.getoption("batch_size"),
            score_cache=not config.getoption("no_score_cache"),
            trust_remote_code=config.getoption("trust_remote_code"),
            allow_pickle=config.getoption("allow_pickle"),
            scoring_path=config.getoption("scoring_path"),
            onednn=config.getoption("onednn"),
        )
        if options.batch_size is not None and options.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {options.batch_size}")
        check_placement(device, shard=options.shard, max_gpu_memory=options.max_gpu_memory, backend=options.backend)
        if options.backend == "vllm":
            check_vllm()
        family = resolve_models(
            load_families(Path(config.rootpath) / "pyproject.toml"),
            family=config.getoption("model_family"),
            sizes=[size.strip() for size in sizes.split(",") if size.strip()] if sizes else None,
            paths=config.getoption("model_path"),
        )
    except (RegistryError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[SESSION_MODELS] = SessionModels(family=family, options=options)


_UNCAPTURED = pytest.StashKey[bool]()


@contextmanager
def uncaptured(config: pytest.Config) -> Iterator[None]:
    """Let progress (ours, and download/conversion bars) reach the terminal live, not pytest's captured output.

    Re-entrant: pytest's own switch resumes capturing when an inner use exits, which would swallow the rest of
    an outer one (a progress line printed in the middle of a model load).
    """
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None or config.stash.get(_UNCAPTURED, False):
        yield
        return
    config.stash[_UNCAPTURED] = True
    try:
        with capture.global_and_fixture_disabled():
            yield
    finally:
        config.stash[_UNCAPTURED] = False


def notifier(config: pytest.Config) -> Notify:
    """Print a progress line at once, past pytest's output capture, so a long load never looks like a hang."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is not None:
        return functools.partial(_to_terminal_of_controller, worker)

    def notify(message: str) -> None:
        if reporter is None:
            return
        with uncaptured(config):
            reporter.ensure_newline()
            reporter.write_line(f"[scalecheck] {message}")

    return notify


def _to_terminal_of_controller(worker: str, message: str) -> None:
    """A pytest-xdist worker's own terminal output goes nowhere; its standard error is the controller's (execnet
    starts workers with pipes for stdin and stdout only), so progress lines written there reach the user."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(f"[scalecheck {worker}] {message}\n")
        stream.flush()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "lm" in metafunc.fixturenames:
        specs = metafunc.config.stash[SESSION_MODELS].family.sizes
        metafunc.parametrize("lm", specs, ids=[spec.label for spec in specs], indirect=True, scope="session")


def model_spec_of(item: pytest.Item) -> ModelSpec | None:
    """The model an item runs against, or None for items that don't use ``lm``."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("lm") if callspec is not None else None


def model_index(item: pytest.Item) -> int:
    spec = model_spec_of(item)
    return -1 if spec is None else item.config.stash[SESSION_MODELS].family.sizes.index(spec)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Model by model, smallest first: one model in memory, and results arrive in the order of the table."""
    items.sort(key=model_index)


@pytest.fixture(scope="session")
def lm(request: pytest.FixtureRequest) -> Iterator[ModelUnderTest]:
    """The model under test, loaded once for all behaviours and freed before the next model loads."""
    session = request.config.stash[SESSION_MODELS]
    spec: ModelSpec = request.param
    notify = notifier(request.config)
    failure = None
    try:
        with uncaptured(request.config):
            model, facts = load_model(spec, session.options, notify)
    except (LoadError, PackageNotInstalledError) as error:
        failure = str(error)
    if failure is not None:  # outside the except block: one line, not the chain of library exceptions
        session.loads[spec.label] = {"load_error": failure}
        raise ModelFailed(failure, pytrace=False)
    session.loads[spec.label] = facts
    started = time.perf_counter()
    yield model
    model.close()
    del model
    free_memory()
    facts["seconds_in_use"] = round(time.perf_counter() - started, 2)
