"""The vLLM backend scores as the transformers backend does: same token boundary, the continuation's prompt
log-probs summed. On CPU its logic is checked against an engine that answers as vLLM does from a tiny local model;
the agreement with real vLLM runs only where vLLM and a GPU are."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from models.registry import ModelSpec
from models.scoring import HFBackend
from models.under_test import TOO_LONG
from models.vllm_backend import TOLERANCE, VLLMBackend, continuation_logprob
from reports.exitcodes import Exit
from tests.tiny_models import MAX_POSITIONS, build_tiny_model, load_tiny_model

REQUESTS = [
    ("A, B, A, B, A,", " A"),
    ("A, B, A, B, A,", " B"),
    ("A, B, A, B, A, ", "B"),  # trailing whitespace moves to the continuation
    ("Which comes next in the sequence? The answer is", " the symbol that keeps the pattern."),
    ("", "alpha beta"),  # an empty context starts from the tokenizer's own beginning
]
VLLM = importlib.util.find_spec("vllm") is not None


class PromptLogprobEngine:
    """Answers ``generate`` as vLLM does with ``prompt_logprobs``: per prompt position, None first, then a dict
    holding the prompt's own token's log-prob (as vLLM's ``Logprob`` objects), computed by a transformers model."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.prompts: list[list[int]] = []

    def generate(self, prompts: list[dict], sampling: object) -> list[SimpleNamespace]:
        outputs = []
        for prompt in prompts:
            ids = prompt["prompt_token_ids"]
            self.prompts.append(ids)
            with torch.no_grad():
                logits = self.model(torch.tensor([ids])).logits[0].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            entries: list[dict | None] = [None]
            for position, token in enumerate(ids[1:], start=1):
                entries.append({token: SimpleNamespace(logprob=logprobs[position - 1, token].item())})
            outputs.append(SimpleNamespace(prompt_logprobs=entries))
        return outputs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vllm")
    return {kind: build_tiny_model(kind, root / kind) for kind in ("opt", "gpt2", "llama")}


def test_a_continuation_s_score_is_the_sum_of_its_own_prompt_log_probs() -> None:
    entries = [None, {7: SimpleNamespace(logprob=-1.0)}, {8: SimpleNamespace(logprob=-0.5), 3: -9.0}, {9: -0.25}]
    assert continuation_logprob([1, 7, 8, 9], 2, entries) == -0.75
    assert continuation_logprob([1, 7, 8, 9], 1, entries) == -1.75


@pytest.mark.parametrize("kind", ["opt", "gpt2", "llama"])
def test_prompt_log_probs_agree_with_the_transformers_backend(tiny: dict[str, Path], kind: str) -> None:
    model, tokenizer = load_tiny_model(tiny[kind])
    expected = HFBackend(model, tokenizer, label=kind).loglikelihoods(REQUESTS)
    engine = PromptLogprobEngine(model)
    backend = VLLMBackend(engine, tokenizer, label=kind, sampling=None, context_length=MAX_POSITIONS)
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=1e-5)
    assert len(engine.prompts) == 4  # one input per distinct request (the second and third are the same tokens)
    assert backend.tokenize_request(*REQUESTS[2]) == HFBackend(model, tokenizer, label=kind).tokenize_request(
        *REQUESTS[2]
    )


def test_a_prompt_longer_than_the_context_is_not_sent(tiny: dict[str, Path]) -> None:
    model, tokenizer = load_tiny_model(tiny["gpt2"])
    engine = PromptLogprobEngine(model)
    backend = VLLMBackend(engine, tokenizer, label="gpt2", sampling=None, context_length=8)
    scores = backend.loglikelihoods([("A,", " B"), (" ".join(["alpha"] * 40), " beta")])
    assert scores[1] == TOO_LONG and scores[0] < 0 and len(engine.prompts) == 1
    backend.close()
    with pytest.raises(RuntimeError, match="is closed"):
        backend.loglikelihoods([("A,", " B")])


def test_a_prompt_as_long_as_the_context_is_not_sent_as_vllm_refuses_it(tiny: dict[str, Path]) -> None:
    """vLLM must generate one token after the prompt, so a prompt of exactly max_model_len tokens is refused by the
    engine (and would fail the whole batch): it is TOO_LONG here, one token shorter is scored."""
    model, tokenizer = load_tiny_model(tiny["gpt2"])
    request = ("A, B, A, B,", " A")
    context, continuation = HFBackend(model, tokenizer, label="gpt2").tokenize_request(*request)
    length = len(context) + len(continuation)
    for limit, sent in ((length, False), (length + 1, True)):
        engine = PromptLogprobEngine(model)
        backend = VLLMBackend(engine, tokenizer, label="gpt2", sampling=None, context_length=limit)
        score = backend.loglikelihoods([request])[0]
        assert (score != TOO_LONG) == sent and len(engine.prompts) == int(sent), (limit, score)


@pytest.mark.skipif(VLLM, reason="vLLM is installed here: --backend vllm is not refused")
def test_backend_vllm_without_vllm_is_a_usage_error(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--backend", "vllm")
    assert outcome.ret == Exit.USAGE
    outcome.stderr.fnmatch_lines(
        ["ERROR: --backend vllm: vLLM is not installed here; pip install * on a CUDA machine, or use --backend *"]
    )


@pytest.mark.skipif(
    not (VLLM and torch.cuda.is_available()),
    reason="vLLM is not installed (pip install 'scalecheck[vllm]' on a CUDA machine)" if not VLLM else "no CUDA device",
)
def test_vllm_agrees_with_the_transformers_backend(tiny: dict[str, Path]) -> None:  # pragma: no cover - needs vLLM
    from models.loading import LoadOptions
    from models.vllm_backend import load_vllm

    model, tokenizer = load_tiny_model(tiny["llama"])
    expected = HFBackend(model.to("cuda"), tokenizer, label="llama").loglikelihoods(REQUESTS)
    options = LoadOptions(device="cuda", dtype=torch.float32, backend="vllm")
    backend = load_vllm(ModelSpec(label="llama", source="path", ref=str(tiny["llama"])), str(tiny["llama"]), options)
    try:
        assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE)
    finally:
        backend.close()
