"""Where a model's weights go, and that they leave: sharding options reach transformers as accelerate reads them
(plumbing tested on CPU with torch's CUDA calls stood in for), and memory returns between the sizes of a session."""

from __future__ import annotations

import gc
import re
from pathlib import Path

import psutil
import pytest
import torch

from models import loading
from models.device import check_placement, device_map_for, free_memory, max_memory_for, resolve_dtype
from models.fixtures import SessionModels
from models.loading import LoadOptions, load_model
from models.registry import Family, ModelSpec
from reports.exitcodes import Exit
from tests.project import results
from tests.tiny_models import build_tiny_model


def test_plain_cuda_shards_over_several_gpus_and_shard_forces_it_on_one(
    two_gpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert device_map_for("cpu") is None and device_map_for("cpu", shard=False) is None
    assert device_map_for("cuda") == "auto"
    assert device_map_for("cuda:1") == {"": "cuda:1"}
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert device_map_for("cuda") == {"": "cuda"}
    assert device_map_for("cuda", shard=True) == "auto"


def test_a_memory_cap_applies_to_every_visible_gpu_of_a_sharded_load_only(two_gpus: None) -> None:
    capped = max_memory_for("auto", "70GiB")
    assert capped is not None and {key: capped[key] for key in (0, 1)} == {0: "70GiB", 1: "70GiB"}
    assert re.fullmatch(r"\d+MiB", capped["cpu"]), "what does not fit the capped GPUs may still go to the CPU"
    assert max_memory_for("auto", "38 GB") == {0: "38GB", 1: "38GB", "cpu": capped["cpu"]}
    assert max_memory_for({"": "cuda:0"}, "70GiB") is None
    assert max_memory_for("auto", None) is None


@pytest.mark.parametrize(
    ("device", "shard", "cap", "message"),
    [
        ("cpu", True, None, "--shard spreads a model over every visible GPU, not cpu; use --device cuda"),
        ("cuda:1", True, None, "--shard spreads a model over every visible GPU, not cuda:1; use --device cuda"),
        ("cpu", False, "70GiB", "--max-gpu-memory caps each GPU's share of a sharded model, and the device is cpu"),
        (
            "cuda:1",
            False,
            "70GiB",
            "--max-gpu-memory caps each GPU's share of a sharded model, and the device is cuda:1",
        ),
        ("cuda", False, "lots", "--max-gpu-memory 'lots' is not a size; give one like 70GiB or 38GB"),
    ],
)
def test_sharding_options_that_mean_nothing_here_are_refused(
    device: str, shard: bool, cap: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        check_placement(device, shard=shard, max_gpu_memory=cap)


@pytest.mark.parametrize(
    ("device", "shard", "cap"), [("cuda", True, None), ("cuda", False, "70GiB"), ("cuda:1", False, None)]
)
def test_vllm_places_models_itself_so_placement_options_are_refused(device: str, shard: bool, cap: str | None) -> None:
    with pytest.raises(ValueError, match="--backend vllm places each model itself"):
        check_placement(device, shard=shard, max_gpu_memory=cap, backend="vllm")


def test_a_sharded_load_passes_device_map_and_max_memory_to_transformers(
    two_gpus: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import transformers

    asked: dict = {}

    def from_pretrained(where: str, **kwargs: object) -> None:
        asked.update(kwargs)
        raise RuntimeError("stop before any weight moves")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", from_pretrained)
    directory = build_tiny_model("gpt2", tmp_path / "tiny")
    options = LoadOptions(device="cuda", dtype=torch.bfloat16, shard=True, max_gpu_memory="70GiB")
    spec = ModelSpec(label="tiny", source="path", ref=str(directory))
    with pytest.raises(loading.LoadError, match="stop before any weight moves"):
        load_model(spec, options, lambda _: None)
    assert asked["device_map"] == "auto" and {key: asked["max_memory"][key] for key in (0, 1)} == {
        0: "70GiB",
        1: "70GiB",
    }
    assert set(asked["max_memory"]) == {0, 1, "cpu"}
    assert asked["dtype"] == torch.bfloat16


def test_shard_on_a_cpu_run_is_a_usage_error(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--device", "cpu", "--shard")
    assert outcome.ret == Exit.USAGE
    outcome.stderr.fnmatch_lines(["ERROR: --shard spreads a model over every visible GPU, not cpu; use --device cuda*"])


def test_a_serial_run_on_a_gpu_loads_in_the_dtype_auto_resolves_to_there(
    suite: pytest.Pytester, two_gpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serially the one process resolves ``--dtype auto`` as ever: here a GPU without bfloat16, so float16."""
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--model-sizes", "obeys", "--examples", "5")
    assert outcome.ret == Exit.OK
    outcome.stdout.fnmatch_lines(["[[]scalecheck[]] loading obeys * on cuda as float16 ..."])
    run = results(suite)["run"]
    assert (run["device"], run["dtype"], run["workers"]) == ("cuda", "float16", None)


def test_the_dtype_recorded_is_what_each_size_loaded_in_and_auto_on_a_gpu_until_one_has() -> None:
    """Workers on different GPUs may resolve ``auto`` differently; the controller resolves nothing itself."""
    sizes = tuple(ModelSpec(label=label, source="python", ref="tests.scripted:obeys") for label in "abc")
    family = Family(name="f", description="", sizes=sizes)
    on_gpus = SessionModels(family=family, options=LoadOptions(device="cuda", dtype=None))
    assert on_gpus.dtype() == "auto"
    on_gpus.loads.update({"c": {"dtype": "float16"}, "b": {"load_error": "out of memory"}, "a": {"dtype": "bfloat16"}})
    assert on_gpus.dtype() == "bfloat16, float16"
    assert SessionModels(family=family, options=LoadOptions(device="cuda", dtype=torch.float16)).dtype() == "float16"
    assert SessionModels(family=family, options=LoadOptions(device="cpu", dtype=None)).dtype() == "float32"


def _resident() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def _llama_of_44_mb(directory: Path) -> Path:
    """A random Llama of about 11M parameters (44 MB in float32): big enough that holding it shows in resident
    memory, small enough to load several times in a test."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    from tests.tiny_models import build_config, build_tokenizer

    tokenizer = build_tokenizer("llama")
    shape = {"hidden_size": 512, "intermediate_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 8}
    config = LlamaConfig(**{**build_config("llama", tokenizer).to_dict(), **shape, "head_dim": 64})
    AutoModelForCausalLM.from_config(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_memory_returns_near_its_start_after_each_size_of_a_session(tmp_path: Path) -> None:
    """Three models loaded, used and freed one after another, as the ``lm`` fixture does between sizes: each one
    loaded raises resident memory by about its weights, and after each is freed it is back near its start."""
    directory = _llama_of_44_mb(tmp_path / "llama")
    weights = (directory / "model.safetensors").stat().st_size
    spec = ModelSpec(label="llama", source="path", ref=str(directory))
    options = LoadOptions(device="cpu", dtype=torch.float32)

    def one_size() -> tuple[int, int]:
        model, _ = load_model(spec, options, lambda _: None)
        model.loglikelihoods([("A, B, A, B, A,", " A"), ("A, B, A, B, A,", " B")])
        loaded = _resident()
        model.close()
        del model
        free_memory()
        return loaded, _resident()

    one_size()  # the first load also brings in code and allocator arenas that stay for the session
    start = _resident()
    sizes = [one_size() for _ in range(3)]
    assert all(loaded - start > weights / 2 for loaded, _ in sizes), (start, sizes, weights)
    assert all(after - start < weights / 4 for _, after in sizes), (start, sizes, weights)


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: GPU memory is checked only where there is one"
)
def test_gpu_memory_returns_to_its_start_after_a_size(tmp_path: Path) -> None:  # pragma: no cover - needs a GPU
    directory = build_tiny_model("llama", tmp_path / "tiny")
    spec = ModelSpec(label="tiny", source="path", ref=str(directory))
    start = torch.cuda.memory_allocated()
    model, _ = load_model(spec, LoadOptions(device="cuda:0", dtype=torch.float32), lambda _: None)
    assert torch.cuda.memory_allocated() > start
    model.close()
    del model
    free_memory()
    assert torch.cuda.memory_allocated() == start


@pytest.mark.parametrize(
    ("device", "capability", "dtype"),
    [("cuda", (8, 0), torch.bfloat16), ("cuda:1", (8, 6), torch.bfloat16), ("cuda:1", (7, 5), torch.float16)],
)
def test_auto_on_a_gpu_is_bfloat16_only_where_that_gpu_computes_it_natively(
    monkeypatch: pytest.MonkeyPatch, device: str, capability: tuple[int, int], dtype: torch.dtype
) -> None:
    """A T4 (7.5) emulates bfloat16, slowly, though torch.cuda.is_bf16_supported() says yes; the GPU asked is the one
    the model loads on, not the current one."""
    asked: list[int] = []
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: asked.append(index) or capability)
    assert resolve_dtype(None, device) == dtype
    assert asked == [0 if device == "cuda" else 1]
    assert resolve_dtype(torch.float32, device) == torch.float32 and resolve_dtype(None, "cpu") == torch.float32
