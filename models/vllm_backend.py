"""An optional vLLM backend: the same log-likelihoods as ``HFBackend``, from vLLM's prompt log-probabilities.

What it buys on a GPU is throughput: continuous batching of many prompts and paged attention (the KV cache in
fixed-size blocks, so memory is not reserved for the longest prompt). The token boundary is the transformers
backend's own (``models.tokens.RequestEncoder``): the context's and continuation's ids are concatenated, sent as
token ids (vLLM does not re-tokenize them), and the continuation's score is the sum of the prompt log-probs vLLM
returns at its positions. Written from vLLM's and lm-evaluation-harness' documented use of ``prompt_logprobs``;
it runs only where vLLM is installed (never on this project's CPU-only development machine), and its agreement
with the transformers backend is ``tests/test_vllm_backend.py``.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from models.device import dtype_name, free_memory
from models.under_test import TOO_LONG, Request

if TYPE_CHECKING:
    from models.loading import LoadOptions
    from models.registry import ModelSpec

TOLERANCE = 0.05
"""How far (nats, per request) vLLM's scores may sit from transformers' in bfloat16 on a GPU: different kernels
accumulate in a different order. Comparisons in float32 agree far closer; the tests use this bound."""


def check_vllm() -> None:
    """``--backend vllm`` where vLLM is not installed is a usage error, named before any model loads."""
    if importlib.util.find_spec("vllm") is None:
        raise ValueError(
            "--backend vllm: vLLM is not installed here; pip install 'scalecheck[vllm]' on a CUDA machine, or use "
            "--backend transformers"
        )


def continuation_logprob(prompt: Sequence[int], context_length: int, prompt_logprobs: Sequence[Any]) -> float:
    """Sum of the log-probs vLLM gave the prompt's own tokens after its first ``context_length`` tokens. Each entry
    maps token id to a ``Logprob`` (or a float in old vLLM); the prompt's own token is always among them."""
    total = 0.0
    for token, entry in zip(prompt[context_length:], prompt_logprobs[context_length:], strict=True):
        value = entry[token]
        total += float(getattr(value, "logprob", value))
    return total


class VLLMBackend:
    """Log-likelihoods from a ``vllm.LLM`` engine (or anything with its ``generate``), scored as token ids."""

    def __init__(
        self,
        engine: Any,
        tokenizer: Any,
        *,
        label: str,
        sampling: Any,
        context_length: int | None,
    ) -> None:
        from models.tokens import RequestEncoder

        self.engine: Any = engine
        self.label = label
        self.sampling = sampling
        """``SamplingParams(max_tokens=1, prompt_logprobs=1, temperature=0)``: one token generated, ignored."""
        self.context_length = context_length
        self._encoder = RequestEncoder(tokenizer)

    def tokenize_request(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context token ids, continuation token ids) by the transformers backend's rule."""
        return self._encoder(context, continuation)

    def loglikelihoods(
        self, requests: Sequence[Request], *, progress: Callable[[int], None] | None = None
    ) -> list[float]:
        """One engine call for every distinct input (vLLM batches them itself); ``TOO_LONG`` beyond the context."""
        if self.engine is None:
            raise RuntimeError(f"VLLMBackend({self.label!r}) is closed")
        pairs = [self.tokenize_request(context, continuation) for context, continuation in requests]
        keys = [(tuple(context + continuation), len(context)) for context, continuation in pairs]
        limit = self.context_length
        # vLLM refuses a prompt of max_model_len tokens when it must generate one more, so the limit is strict.
        scored = sorted({key for key in keys if limit is None or len(key[0]) < limit})
        prompts = [{"prompt_token_ids": list(prompt)} for prompt, _ in scored]
        outputs = self.engine.generate(prompts, self.sampling) if prompts else []
        scores = {
            (prompt, split): continuation_logprob(prompt, split, output.prompt_logprobs)
            for (prompt, split), output in zip(scored, outputs, strict=True)
        }
        if progress is not None:
            progress(len(requests))
        return [scores.get(key, TOO_LONG) for key in keys]

    def close(self) -> None:
        """Drop the engine and vLLM's process groups, so the next size of a sweep gets the GPU memory back."""
        self.engine = None
        with contextlib.suppress(ImportError, AssertionError, RuntimeError):
            from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

            destroy_model_parallel()
            destroy_distributed_environment()
        free_memory()


def load_vllm(spec: ModelSpec, where: str, options: LoadOptions) -> VLLMBackend:
    """A vLLM engine over the GPUs this process sees: tensor-parallel over all of them when plain ``cuda`` is
    asked for (the sharding ``device_map="auto"`` gives the transformers backend), else one."""
    import torch
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    parallel = torch.cuda.device_count() if options.device == "cuda" and torch.cuda.device_count() > 1 else 1
    engine = LLM(
        model=where,
        tokenizer=where,
        revision=spec.revision,
        dtype=dtype_name(options.dtype),
        tensor_parallel_size=parallel,
        trust_remote_code=options.trust_remote_code,
        seed=0,
    )
    tokenizer = AutoTokenizer.from_pretrained(
        where, revision=spec.revision, trust_remote_code=options.trust_remote_code
    )
    return VLLMBackend(
        engine,
        tokenizer,
        label=spec.label,
        sampling=SamplingParams(max_tokens=1, prompt_logprobs=1, temperature=0.0, detokenize=False),
        context_length=engine.llm_engine.model_config.max_model_len,
    )
