"""Untrusted checkpoints stay inert: no checkpoint code runs, no pickle is loaded, nothing waits on stdin, unless
the user says so; every refusal and every load failure is one line naming the remedy."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import pytest
import torch

from models.loading import LoadError, LoadOptions, load_model
from models.registry import ModelSpec
from tests.tiny_models import build_tiny_model

CPU = LoadOptions(device="cpu", dtype=torch.float32)
MARKER_CODE = "import pathlib\npathlib.Path(__file__).with_name('RAN').write_text('the checkpoint code ran')\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("gpt2", tmp_path_factory.mktemp("loading") / "tiny")


def _copy(tiny: Path, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(tiny, tmp_path / name))


def _load(directory: Path, options: LoadOptions = CPU) -> object:
    model, _ = load_model(ModelSpec(label=directory.name, source="path", ref=str(directory)), options, lambda _: None)
    model.close()
    return model


def _with_custom_code(directory: Path, config_file: str, model_type: str | None) -> Path:
    config = json.loads((directory / config_file).read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    if model_type is not None:
        config["model_type"] = model_type
    (directory / config_file).write_text(json.dumps(config))
    (directory / "evil.py").write_text(MARKER_CODE)
    return directory


@pytest.mark.parametrize(
    ("config_file", "model_type"),
    [("config.json", None), ("config.json", "evil"), ("tokenizer_config.json", None)],
    ids=["known-model-type", "unknown-model-type", "custom-tokenizer"],
)
def test_a_checkpoint_that_asks_to_run_its_own_code_is_refused_without_reading_stdin(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_file: str, model_type: str | None
) -> None:
    directory = _with_custom_code(_copy(tiny, tmp_path, "custom"), config_file, model_type)
    answer = io.StringIO("y\n")  # what a user (or a CI runner's open stdin) would answer transformers' prompt
    monkeypatch.setattr(sys, "stdin", answer)
    with pytest.raises(LoadError) as refused:
        _load(directory)
    assert str(refused.value) == (
        f"custom (path {directory}): its {config_file} has an auto_map (evil.EvilConfig, evil.EvilModel), code that "
        "would run on this machine; scalecheck does not run a checkpoint's code unless you pass --trust-remote-code "
        "(only for a checkpoint you trust)"
    )
    assert answer.tell() == 0 and not (directory / "RAN").exists()


def test_a_pickle_only_checkpoint_is_refused_unless_allowed(tiny: Path, tmp_path: Path) -> None:
    directory = _copy(tiny, tmp_path, "pickled")
    weights = directory / "model.safetensors"
    from safetensors.torch import load_file

    torch.save(load_file(weights), directory / "pytorch_model.bin")
    weights.unlink()
    with pytest.raises(LoadError) as refused:
        _load(directory)
    assert str(refused.value) == (
        f"pickled (path {directory}): only pickle weights (pytorch_model.bin), which can run code when loaded; "
        "convert them to safetensors (save_pretrained(..., safe_serialization=True)) or pass --allow-pickle if you "
        "trust the checkpoint"
    )
    _load(directory, LoadOptions(device="cpu", dtype=torch.float32, allow_pickle=True))


class _Payload:
    def __reduce__(self) -> tuple:
        return (os.system, ("touch RAN",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_malicious_pickle_stays_refused_even_when_pickles_are_allowed(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = _copy(tiny, tmp_path, "malicious")
    (directory / "model.safetensors").unlink()
    (directory / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": _Payload()}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError) as refused:
        _load(directory, LoadOptions(device="cpu", dtype=torch.float32, allow_pickle=True))
    assert str(refused.value) == (
        f"could not load malicious (path {directory}): its pickle weights hold objects other than tensors, which "
        "would run code when unpickled, so they were refused (convert the checkpoint to safetensors where you trust it)"
    )
    assert not (tmp_path / "RAN").exists()


def test_a_truncated_safetensors_file_is_one_line_naming_the_remedy(tiny: Path, tmp_path: Path) -> None:
    directory = _copy(tiny, tmp_path, "truncated")
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(LoadError) as failed:
        _load(directory)
    assert str(failed.value).startswith(f"could not load truncated (path {directory}): SafetensorError: ")
    assert str(failed.value).endswith("(a weights file is truncated or damaged; re-save or re-download the checkpoint)")


def test_a_gpu_that_cannot_be_used_is_one_line_naming_the_gpu_remedy(tiny: Path) -> None:
    """Here torch has no CUDA at all, as on a node whose driver is missing: the load fails on asking the GPU which
    dtype it computes, and the line says so, not that the checkpoint is incomplete."""
    with pytest.raises(LoadError) as failed:
        _load(tiny, LoadOptions(device="cuda", dtype=None))
    assert str(failed.value) == (
        f"could not load tiny (path {tiny}): the GPU could not be used (AssertionError: Torch not compiled with CUDA "
        "enabled); check it with nvidia-smi, or run on the CPU with --device cpu"
    )


def test_a_model_too_large_for_its_gpu_names_sharding(monkeypatch: pytest.MonkeyPatch) -> None:
    def too_large(**_: object) -> NoReturn:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("tests.scripted.obeys", too_large)
    spec = ModelSpec(label="big", source="python", ref="tests.scripted:obeys")
    with pytest.raises(
        LoadError, match=r"^could not load big .*: it does not fit on the GPU \(OutOfMemoryError: CUDA out of memory"
    ):
        load_model(spec, LoadOptions(device="cuda", dtype=torch.float16), lambda _: None)
