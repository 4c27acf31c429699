"""Load one ModelSpec into a ModelUnderTest: hub id, local directory, packaged GGUF, or a Python factory."""

from __future__ import annotations

import importlib
import pickle
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from models.device import OUT_OF_MEMORY, device_map_for, dtype_name, max_memory_for, resolve_dtype
from models.packaged import PackageNotInstalledError
from models.registry import ModelSpec, human_count
from models.score_cache import open_store
from models.under_test import Backend, ModelUnderTest, first_line

Notify = Callable[[str], None]


PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


class LoadError(RuntimeError):
    """A model that could not be loaded; the message says why in one line and what to do instead."""


BACKENDS = ("transformers", "vllm")
"""``--backend``: transformers (``HFBackend``) or vLLM (``models/vllm_backend.py``)."""


@dataclass(frozen=True)
class LoadOptions:
    device: str
    dtype: torch.dtype | None
    """None: ``--dtype auto``, resolved by ``load_model`` where the model loads (``models.device.resolve_dtype``)."""
    shard: bool = False
    """Load with ``device_map="auto"`` even on one GPU (accelerate offloads what does not fit to the CPU)."""
    max_gpu_memory: str | None = None
    """Cap on each GPU's share of a sharded model (``max_memory`` for accelerate), e.g. ``70GiB``."""
    backend: str = "transformers"
    """``transformers`` (HFBackend) or ``vllm`` (models/vllm_backend.py, where vLLM is installed)."""
    batch_size: int | None = None
    """Inputs per padded batch; None: measured on a CPU (models/autotune.py), 16 on a GPU."""
    score_cache: bool = False
    """Read and write the persistent score cache (models/score_cache.py); the pytest options turn it on."""
    trust_remote_code: bool = False
    """Let a checkpoint run its own Python code (an ``auto_map`` in its config): only for checkpoints you trust."""
    allow_pickle: bool = False
    """Load pickle weights (``pytorch_model.bin``) of a checkpoint without safetensors: unpickling can run code."""
    scoring_path: str = "auto"
    """auto (measured on a CPU), tree or padded: see models/autotune.py."""
    onednn: str = "auto"
    """auto (measured), on or off: oneDNN for float32 linear layers on a CPU."""


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(total, non-embedding): non-embedding leaves out token, untied output and learned position embeddings."""
    unique = {id(parameter): parameter for parameter in model.parameters()}
    total = sum(parameter.numel() for parameter in unique.values())
    embedding_ids = {id(model.get_input_embeddings().weight)}
    output = model.get_output_embeddings()
    if output is not None:
        embedding_ids.add(id(output.weight))
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Embedding) and ("pos" in name or name.endswith("wpe")):
            embedding_ids.add(id(module.weight))
    embedded = sum(unique[key].numel() for key in embedding_ids if key in unique)
    return total, total - embedded


def _factory(ref: str) -> Callable[..., Backend]:
    module_name, _, attribute = ref.partition(":")
    if not attribute:
        raise LoadError(f"python source {ref!r} must be 'module:factory'")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise LoadError(f"python source {ref!r}: {error}") from error


def _custom_code(where: str, revision: str | None) -> str | None:
    """The code a checkpoint's configs ask transformers to import from the checkpoint itself (``auto_map``)."""
    from transformers import PretrainedConfig
    from transformers.models.auto.tokenization_auto import get_tokenizer_config

    configs = {
        "config.json": PretrainedConfig.get_config_dict(where, revision=revision)[0],
        "tokenizer_config.json": get_tokenizer_config(where, revision=revision),
    }
    for name, config in configs.items():
        auto_map = config.get("auto_map")
        if auto_map:
            named = ", ".join(sorted(map(str, auto_map.values() if isinstance(auto_map, dict) else auto_map)))
            return f"its {name} has an auto_map ({named})"
    return None


def _pickle_only(where: str) -> list[str]:
    """The pickle weight files of a local checkpoint that has no safetensors (empty if it has, or is on the hub)."""
    folder = Path(where)
    if not folder.is_dir():
        return []
    names = sorted(path.name for path in folder.iterdir())
    if any(name.endswith(".safetensors") for name in names):
        return []
    return [name for name in names if name.endswith(PICKLE_SUFFIXES)]


def _check_inert(spec: ModelSpec, where: str, options: LoadOptions) -> None:
    """Refuse, before transformers sees it, a checkpoint that would run its own code unless the user allowed it."""
    if not options.trust_remote_code:
        custom = _custom_code(where, spec.revision)
        if custom is not None:
            raise LoadError(
                f"{spec.describe()}: {custom}, code that would run on this machine; scalecheck does not run a "
                "checkpoint's code unless you pass --trust-remote-code (only for a checkpoint you trust)"
            )
    pickles = _pickle_only(where) if not options.allow_pickle else []
    if pickles:
        raise LoadError(
            f"{spec.describe()}: only pickle weights ({', '.join(pickles)}), which can run code when loaded; convert "
            "them to safetensors (save_pretrained(..., safe_serialization=True)) or pass --allow-pickle if you trust "
            "the checkpoint"
        )


def _from_pretrained(spec: ModelSpec, where: str, options: LoadOptions, notify: Notify) -> Backend:
    """Never waits on stdin (``trust_remote_code`` is always passed, so transformers never asks) and loads only
    safetensors unless ``allow_pickle``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from models.autotune import PlanStore
    from models.packaged import transformers_bars_off
    from models.scoring import HFBackend

    _check_inert(spec, where, options)
    if options.backend == "vllm":
        from models.vllm_backend import load_vllm

        return load_vllm(spec, where, options)
    trust = options.trust_remote_code
    tokenizer = AutoTokenizer.from_pretrained(where, revision=spec.revision, trust_remote_code=trust)
    device_map = device_map_for(options.device, shard=options.shard)
    # A local load's bar says nothing the loading/loaded lines do not; a hub download's bars show progress.
    with transformers_bars_off() if spec.source != "hub" else nullcontext():
        model = AutoModelForCausalLM.from_pretrained(
            where,
            revision=spec.revision,
            dtype=options.dtype,
            device_map=device_map,
            max_memory=max_memory_for(device_map, options.max_gpu_memory),
            trust_remote_code=trust,
            use_safetensors=None if options.allow_pickle else True,
        )
    model.eval()
    fingerprint = _fingerprint(model, tokenizer, where) if options.score_cache else None
    return HFBackend(
        model,
        tokenizer,
        label=spec.label,
        path=options.scoring_path,
        onednn=options.onednn,
        batch_size=options.batch_size,
        plans=PlanStore(),
        notify=notify,
        fingerprint=fingerprint,
    )


def _load_failure(spec: ModelSpec, error: Exception, device: str) -> str:
    """One line for a load failure: what failed and what to do, by where the model comes from, where it was to run
    and what went wrong."""
    text = str(error)
    on_gpu = device.startswith("cuda")
    if on_gpu and isinstance(error, OUT_OF_MEMORY):
        return (
            f"could not load {spec.describe()}: it does not fit on the GPU ({first_line(error)}); spread it over "
            "several GPUs with --shard, cap each GPU with --max-gpu-memory, or leave this size out with --model-sizes"
        )
    if on_gpu and ("CUDA" in text or "NVIDIA" in text):
        return (
            f"could not load {spec.describe()}: the GPU could not be used ({first_line(error)}); check it with "
            "nvidia-smi, or run on the CPU with --device cpu"
        )
    if isinstance(error, pickle.UnpicklingError):  # torch's own text suggests weights_only=False: never that
        return (
            f"could not load {spec.describe()}: its pickle weights hold objects other than tensors, which would run "
            "code when unpickled, so they were refused (convert the checkpoint to safetensors where you trust it)"
        )
    if "safetensors" in text and isinstance(error, OSError):
        remedy = "the checkpoint has no safetensors weights; pass --allow-pickle if you trust its pickle files"
    elif type(error).__name__ == "SafetensorError":
        remedy = "a weights file is truncated or damaged; re-save or re-download the checkpoint"
    elif spec.source == "hub" and isinstance(error, OSError):
        remedy = "without hub access run the offline family (pytest behaviours/) or pass --model-path DIR"
    elif spec.source == "python":
        remedy = f"fix the factory {spec.ref} or leave this size out with --model-sizes"
    else:
        remedy = "check the directory holds a complete checkpoint saved with save_pretrained"
    return f"could not load {spec.describe()}: {first_line(error)} ({remedy})"


def _fingerprint(model: torch.nn.Module, tokenizer: object, where: str) -> str | None:
    """What the persistent score cache keys this model's scores by; None when its weights cannot be identified."""
    from models.score_cache import checkpoint_identity, model_fingerprint
    from models.scoring import SCORER_VERSION

    identity = checkpoint_identity(where, getattr(model, "config", None))
    return None if identity is None else model_fingerprint(model, tokenizer, identity, scorer_version=SCORER_VERSION)


def _backend(spec: ModelSpec, options: LoadOptions, notify: Notify) -> Backend:
    if spec.source == "python":
        return _factory(spec.ref)(spec=spec, device=options.device, dtype=options.dtype)
    if spec.source == "packaged":
        from models.packaged import packaged_model_dir

        return _from_pretrained(spec, str(packaged_model_dir(spec.ref, notify=notify)), options, notify)
    return _from_pretrained(spec, spec.ref, options, notify)


def load_model(spec: ModelSpec, options: LoadOptions, notify: Notify) -> tuple[ModelUnderTest, dict[str, object]]:
    """The loaded model and facts about the load (seconds, dtype, parameter counts) for the report."""
    started = time.perf_counter()
    try:
        options = replace(options, dtype=resolve_dtype(options.dtype, options.device))
        notify(f"loading {spec.describe()} on {options.device} as {dtype_name(options.dtype)} ...")
        backend = _backend(spec, options, notify)
    except (LoadError, PackageNotInstalledError):
        raise
    except Exception as error:  # a library's failure, however deep: one line, and the remedy
        raise LoadError(_load_failure(spec, error, options.device)) from error
    facts: dict[str, object] = {
        "load_seconds": round(time.perf_counter() - started, 2),
        "threads": torch.get_num_threads(),
        "dtype": dtype_name(options.dtype),
    }
    scoring = getattr(backend, "scoring", None)
    if isinstance(scoring, dict):
        facts["scoring"] = scoring  # filled in as the scorer chooses (models/autotune.py), read by the report
    model = getattr(backend, "model", None)
    if isinstance(model, torch.nn.Module):
        facts["params"], facts["non_embedding_params"] = count_parameters(model)
    params = facts.get("params") or spec.params
    size = f", {human_count(params)} parameters" if params else ""
    notify(f"loaded {spec.label} in {facts['load_seconds']} s{size}")
    store = open_store(backend) if options.score_cache else None
    return ModelUnderTest(backend=backend, label=spec.label, store=store), facts
