"""Where a request's context ends and its continuation begins, in token ids: one rule for the scorer and the audit.

The boundary follows lm-evaluation-harness' HFLM ``_encode_pair``: the context's trailing whitespace moves to the
continuation, the pair is encoded whole, and the continuation is what the whole has beyond the context's own
encoding. The validity audit asks the same question with only a tokenizer (which classes share a token prefix),
so the rule lives here, not inside the scorer.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from models.under_test import request_problem


def added_prefix(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The ids the tokenizer's default encoding puts before the text (OPT ``</s>``, Gemma ``<bos>``, GPT-2 none).

    Checkpoints are trained with exactly this prefix, so contexts are scored with it and without any other.
    """
    plain = tokenizer("a", add_special_tokens=False).input_ids
    default = tokenizer("a").input_ids
    for start in range(len(default) - len(plain) + 1):
        if default[start : start + len(plain)] == plain:
            return list(default[:start])
    return []


def split_trailing_whitespace(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the continuation's front, where BPE vocabularies attach it."""
    kept = context.rstrip()
    return kept, context[len(kept) :] + continuation


class RequestEncoder:
    """(context ids, continuation ids) of a request for one tokenizer, exactly as the scorer scores it."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        self.prefix = added_prefix(tokenizer)
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.empty_context = self.prefix or ([start] if start is not None else [])

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def __call__(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        problem = request_problem((context, continuation))
        if problem is not None:
            raise ValueError(problem)
        context, continuation = split_trailing_whitespace(context, continuation)
        whole = self.encode(context + continuation)
        context_ids = self.encode(context)
        continuation_ids = whole[len(context_ids) :]
        if not continuation_ids:
            raise ValueError(
                f"continuation {continuation!r} encodes to zero tokens after context ending {context[-40:]!r}"
            )
        if context_ids or self.prefix:
            context_ids = self.prefix + context_ids
        elif self.empty_context:
            context_ids = list(self.empty_context)
        else:
            raise ValueError("empty context and the tokenizer has neither a beginning- nor an end-of-sequence token")
        return context_ids, continuation_ids
