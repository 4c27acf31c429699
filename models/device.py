"""Where a model runs and in what precision: thin, guarded wrappers over torch's CUDA calls.

Only a process that loads a model initialises CUDA (torch's ``_lazy_init``, which creates a context, and GPU
memory, on a GPU): a pytest-xdist controller loads none and must not hold a worker's GPU. What it calls initialises
nothing, by torch's source: ``is_available`` asks ``cudaGetDeviceCount`` (the driver, no context),
``device_count`` asks NVML first, ``empty_cache`` does nothing before CUDA is initialised, and
``CUDA_VISIBLE_DEVICES`` is read as text.
"""

from __future__ import annotations

import gc
import os
import re

import torch

from models.cpu_memory import release_freed_memory

DEVICE_CHOICES = "auto|cpu|cuda[:n]"
OUT_OF_MEMORY: type[Exception] = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
"""What torch raises when a device's memory runs out (``torch.OutOfMemoryError`` since 2.5, a CUDA one before)."""
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(name: str) -> str:
    """``auto`` is the first GPU when there is one; asking for a GPU that isn't there is an error, not a fallback."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if re.fullmatch(r"cuda(:\d+)?", name):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: torch sees no CUDA device here; use --device cpu (or auto)")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s); pick cuda:0..")
        return name
    raise ValueError(f"--device {name!r} is not one of {DEVICE_CHOICES}")


def parse_dtype(name: str) -> torch.dtype | None:
    """``--dtype`` as asked, checked without touching CUDA: a dtype, or None for ``auto``, which only a process that
    loads a model resolves (``resolve_dtype``), never a pytest-xdist controller."""
    if name == "auto":
        return None
    if name not in DTYPES:
        raise ValueError(f"--dtype {name!r} is not one of auto|{'|'.join(DTYPES)}")
    return DTYPES[name]


def resolve_dtype(dtype: torch.dtype | None, device: str) -> torch.dtype:
    """``auto`` (None) keeps float32 on the CPU (exact scores). On a GPU it halves memory: bfloat16 where the GPU
    computes it natively (compute capability 8.0 on: A100, H100, L4, ...; ROCm), else float16, since torch's
    ``is_bf16_supported`` also says yes where bfloat16 is only emulated, slowly (V100, T4). Asked of the GPU the model
    loads on (``cuda:N``, else the current one), which initialises CUDA there: so only where a model loads."""
    if dtype is not None:
        return dtype
    if not device.startswith("cuda"):
        return torch.float32
    if torch.version.hip:
        return torch.bfloat16
    index = torch.device(device).index
    major, _ = torch.cuda.get_device_capability(torch.cuda.current_device() if index is None else index)
    return torch.bfloat16 if major >= 8 else torch.float16


def dtype_name(dtype: torch.dtype) -> str:
    """``bfloat16``, as ``--dtype`` names it and the report records it."""
    return str(dtype).removeprefix("torch.")


MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(GiB|GB|MiB|MB)")


def check_placement(device: str, *, shard: bool, max_gpu_memory: str | None, backend: str = "transformers") -> None:
    """Sharding options only mean something on GPUs with the transformers backend (vLLM places a model itself,
    tensor-parallel over the GPUs it sees), and a memory cap must be a size accelerate reads."""
    if backend == "vllm" and (shard or max_gpu_memory is not None or device.startswith("cuda:")):
        raise ValueError(
            "--backend vllm places each model itself over the GPUs it sees: drop --shard, --max-gpu-memory and a "
            "GPU number (choose GPUs with CUDA_VISIBLE_DEVICES)"
        )
    if shard and device != "cuda":
        raise ValueError(f"--shard spreads a model over every visible GPU, not {device}; use --device cuda (or auto)")
    if max_gpu_memory is not None:
        if device != "cuda":
            raise ValueError(
                f"--max-gpu-memory caps each GPU's share of a sharded model, and the device is {device}; drop it, "
                "or use --device cuda"
            )
        if not MEMORY_SIZE.fullmatch(max_gpu_memory):
            raise ValueError(f"--max-gpu-memory {max_gpu_memory!r} is not a size; give one like 70GiB or 38GB")


def device_map_for(device: str, *, shard: bool = False) -> str | dict[str, str] | None:
    """Shard across every GPU when plain ``cuda`` is asked for and there are several (66B does not fit on one), or
    always with ``shard`` (accelerate then places what does not fit the GPUs on the CPU)."""
    if device == "cpu":
        return None
    if device == "cuda" and (shard or torch.cuda.device_count() > 1):
        return "auto"
    return {"": device}


def max_memory_for(device_map: str | dict[str, str] | None, cap: str | None) -> dict[int | str, str] | None:
    """The same cap for every visible GPU, for accelerate's placement (``device_map="auto"`` only), and the CPU's
    free memory beside it: accelerate places only on the devices named, so without the CPU a capped model that
    does not fit the GPUs would fail instead of offloading."""
    if device_map != "auto" or cap is None:
        return None
    import psutil

    caps: dict[int | str, str] = {index: cap.replace(" ", "") for index in range(torch.cuda.device_count())}
    caps["cpu"] = f"{psutil.virtual_memory().available // 2**20}MiB"
    return caps


def visible_gpus() -> list[str]:
    """The GPUs this run may use, named as ``CUDA_VISIBLE_DEVICES`` names them: an outer setting is respected. None
    where torch sees no GPU, whatever the variable says: a cluster may set it on CPU-only nodes too, and ``-n auto``
    would then start a worker per GPU that is not there."""
    if not torch.cuda.is_available():
        return []
    outer = os.environ.get("CUDA_VISIBLE_DEVICES")
    if outer is not None:
        return [name.strip() for name in outer.split(",") if name.strip()]
    return [str(index) for index in range(torch.cuda.device_count())]


def share_gpus(gpus: list[str], workers: int) -> list[list[str]]:
    """Each worker's own GPUs: contiguous, near-equal shares, so a worker given several shards its models over
    them and no two workers ever share one."""
    if workers > len(gpus):
        raise ValueError(
            f"-n {workers} with {len(gpus)} visible GPU(s): each worker needs a GPU of its own; use -n {len(gpus)} "
            "or fewer (-n auto picks that), or --device cpu"
        )
    return [gpus[index * len(gpus) // workers : (index + 1) * len(gpus) // workers] for index in range(workers)]


def free_memory() -> None:
    """Return a dropped model's memory before the next one loads."""
    gc.collect()
    release_freed_memory()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
