"""HFBackend scores exactly what a naive one-request-at-a-time computation scores, with lm-eval's token boundary."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from models import scoring, tree_attention
from models.autotune import batch_rows
from models.cpu_kernels import onednn_available, onednn_linears
from models.prefix_packing import ancestor_mask, pack_prefixes
from models.scoring import PACK_TOKENS, HFBackend, Request
from tests.tiny_models import KINDS

TOLERANCE = 1e-5

pytestmark = pytest.mark.usefixtures("one_thread")

ALTERNATION = "A, B, A, B, A,"
LONG_CONTEXT = "\n".join(
    ["Continue the pattern on the right."]
    + [f"{first}, {second}, {first}, {second}, {first}, {second}," for first, second in ["AB", "73", "XY", "qz"]] * 3
    + ["Which comes next in the sequence? The answer is"]
)
REQUESTS: list[Request] = [
    (ALTERNATION, " B"),
    (ALTERNATION, " A"),
    (LONG_CONTEXT, " A"),
    (LONG_CONTEXT, " the symbol that keeps the pattern."),
    ("7", ", 3"),
    ("left, right, left, ", "right"),
    ("left, right, left, ", "left"),
    ("first, second,", " first, second, first"),
    ("The first symbol is", " alpha and the second is beta"),
    ("Answer:\n", "B"),
    ("", "A, B"),
    ("A, B,", " A"),
    ("A, B", ", A"),  # same scored input as ("A, B,", " A"): one row, two continuation lengths
    ("Name a drink:", " café crème"),
    (ALTERNATION, " B"),  # duplicate
    ("7", ", 3"),  # duplicate
]


def naive_loglikelihood(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, context: str, continuation: str
) -> float:
    """lm-eval's boundary with the tokenizer's own special tokens; one unpadded sequence, logits at every position."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    context_ids = tokenizer(context).input_ids
    continuation_ids = tokenizer(context + continuation).input_ids[len(context_ids) :]
    if not context_ids:
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        context_ids = [start]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([context_ids + continuation_ids])).logits[0]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    first = len(context_ids) - 1
    return sum(logprobs[first + offset, token].item() for offset, token in enumerate(continuation_ids))


@pytest.mark.parametrize("batch_size", [1, 3, 16])
@pytest.mark.parametrize("kind", KINDS)
def test_padded_batches_match_naive_scores(tiny: dict[str, Any], kind: str, batch_size: int) -> None:
    model, tokenizer = tiny[kind]
    backend = HFBackend(model, tokenizer, label=kind, batch_size=batch_size, path="padded")
    expected = [naive_loglikelihood(model, tokenizer, context, continuation) for context, continuation in REQUESTS]
    got = backend.loglikelihoods(REQUESTS)
    assert len(got) == len(REQUESTS)
    assert all(math.isfinite(value) for value in got)
    assert got == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert got[-2] == got[0] and got[-1] == got[4]


@pytest.mark.parametrize("pack_tokens", [8, 40, 256])
@pytest.mark.parametrize("kind", KINDS)
def test_prefix_tree_packs_match_naive_scores(tiny: dict[str, Any], kind: str, pack_tokens: int) -> None:
    """OPT's learned positions (offset by 2), GPT-2's absolute positions and Llama's rotary ones all come from
    each node's depth, not its place in the pack."""
    model, tokenizer = tiny[kind]
    backend = HFBackend(model, tokenizer, label=kind, pack_tokens=pack_tokens)
    expected = [naive_loglikelihood(model, tokenizer, context, continuation) for context, continuation in REQUESTS]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert backend.packing_checked is True


@pytest.mark.parametrize("kind", KINDS)
def test_scores_without_onednn_kernels_match_naive_scores(tiny: dict[str, Any], kind: str) -> None:
    model, tokenizer = tiny[kind]
    backend = HFBackend(model, tokenizer, label=kind, onednn="off")
    expected = [naive_loglikelihood(model, tokenizer, context, continuation) for context, continuation in REQUESTS]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)


@pytest.mark.parametrize("kind", KINDS)
def test_continuation_boundary_follows_lm_eval(tiny: dict[str, Any], kind: str) -> None:
    _, tokenizer = tiny[kind]
    backend = HFBackend(*tiny[kind], label=kind)
    context_ids, continuation_ids = backend.tokenize_request("A, B, A,", " B")
    assert continuation_ids == tokenizer(" B", add_special_tokens=False).input_ids
    assert len(continuation_ids) == 1
    assert tokenizer.decode(context_ids, skip_special_tokens=True) == "A, B, A,"
    assert backend.tokenize_request("A, B, A, ", "B") == (context_ids, continuation_ids)
    newline_context, newline_continuation = backend.tokenize_request("Answer:\n", "B")
    assert tokenizer.decode(newline_continuation) == "\nB"
    assert tokenizer.decode(newline_context, skip_special_tokens=True) == "Answer:"


def test_bos_is_prepended_only_where_the_tokenizer_adds_one(tiny: dict[str, Any]) -> None:
    opt, gpt2, llama = (HFBackend(*tiny[kind], label=kind) for kind in ("opt", "gpt2", "llama"))
    opt_tokenizer, gpt2_tokenizer, llama_tokenizer = (tiny[kind][1] for kind in ("opt", "gpt2", "llama"))
    assert opt.tokenize_request("A, B,", " A")[0][0] == opt_tokenizer.bos_token_id == opt_tokenizer.eos_token_id
    assert llama.tokenize_request("A, B,", " A")[0][0] == llama_tokenizer.bos_token_id
    gpt2_context = gpt2.tokenize_request("A, B,", " A")[0]
    assert gpt2_context == gpt2_tokenizer("A, B,", add_special_tokens=False).input_ids
    assert gpt2_tokenizer.bos_token_id not in gpt2_context
    assert gpt2.tokenize_request("", "A")[0] == [gpt2_tokenizer.bos_token_id]
    assert opt.tokenize_request("", "A")[0] == [opt_tokenizer.bos_token_id]


@dataclass
class Passes:
    """The OPT model's forward passes: the body's (rows, width) per pass, and the rows the LM head got per call."""

    body: list[tuple[int, ...]] = field(default_factory=list)
    head: list[int] = field(default_factory=list)

    def clear(self) -> None:
        self.body.clear()
        self.head.clear()


@pytest.fixture
def passes(tiny: dict[str, Any]) -> Iterator[Passes]:
    model = tiny["opt"][0]
    seen = Passes()
    hooks = [
        model.get_input_embeddings().register_forward_hook(
            lambda module, args, output: seen.body.append(tuple(args[0].shape))
        ),
        model.get_output_embeddings().register_forward_hook(
            lambda module, args, output: seen.head.append(args[0].flatten(0, -2).shape[0])
        ),
    ]
    yield seen
    for hook in hooks:
        hook.remove()


ALTERNATIONS = [", ".join("AB"[i % 2] for i in range(length)) + "," for length in range(3, 13)]
FIRST_CALL_CHECKS = 2
"""Body passes the first scoring call spends checking, on three inputs, that the LM head can run apart."""


def test_requests_with_identical_inputs_share_one_forward_pass(tiny: dict[str, Any], passes: Passes) -> None:
    """Ten prompts with two single-token classes each: ten scored positions, in three passes of four, four, two,
    and the LM head runs once, on those ten rows only."""
    backend = HFBackend(*tiny["opt"], label="opt", batch_size=4, path="padded")
    requests = [(prompt, symbol) for prompt in ALTERNATIONS for symbol in (" A", " B")]
    done: list[int] = []
    backend.loglikelihoods(requests, progress=done.append)
    assert backend.head_deferred is True
    assert [rows for rows, _ in passes.body[FIRST_CALL_CHECKS:]] == [4, 4, 2]
    assert passes.head[-1:] == [len(ALTERNATIONS)]
    assert done == [20]


def test_nested_prompts_are_computed_once_in_a_prefix_tree(tiny: dict[str, Any], passes: Passes) -> None:
    """Each alternation extends the one before it: the tree holds the longest prompt's tokens and nothing else,
    and each prompt's two single-token classes are read from one node."""
    model, tokenizer = tiny["opt"]
    backend = HFBackend(model, tokenizer, label="opt")
    requests = [(prompt, symbol) for prompt in ALTERNATIONS for symbol in (" A", " B")]
    expected = [naive_loglikelihood(model, tokenizer, *request) for request in requests]
    passes.clear()
    done: list[int] = []
    got = backend.loglikelihoods(requests, progress=done.append)
    assert got == pytest.approx(expected, abs=TOLERANCE, rel=0)
    longest = len(sum(backend.tokenize_request(ALTERNATIONS[-1], " A"), [])) - 1
    layout_checks = 2  # and once that the layout gives padded batches' scores: three inputs padded, then packed
    assert passes.body[FIRST_CALL_CHECKS + layout_checks :] == [(1, longest)]
    assert passes.head[-1:] == [len(ALTERNATIONS)]
    assert done == [len(requests)]
    inputs = {tuple(sum(backend.tokenize_request(*request), [])[:-1]) for request in requests}
    assert tuple(pack_prefixes(inputs, PACK_TOKENS)[0].tokens) == next(key for key in inputs if len(key) == longest)
    passes.clear()
    backend.loglikelihoods(requests)
    assert len(passes.body) == 1  # checked once per backend


class RunsOutOfMemory(torch.nn.Module):
    """Wraps a model so any batch of more than ``max_rows`` rows raises torch.OutOfMemoryError, like a full GPU."""

    def __init__(self, inner: PreTrainedModel, max_rows: int) -> None:
        super().__init__()
        self.inner = inner
        self.max_rows = max_rows
        self.rows: list[int] = []

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.inner.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor, **kwargs: Any) -> Any:
        self.rows.append(input_ids.shape[0])
        if input_ids.shape[0] > self.max_rows:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.inner(input_ids=input_ids, **kwargs)


def test_out_of_memory_halves_the_batch_and_remembers_it(tiny: dict[str, Any]) -> None:
    model, tokenizer = tiny["gpt2"]
    wrapped = RunsOutOfMemory(model, max_rows=2)
    backend = HFBackend(wrapped, tokenizer, label="gpt2", batch_size=16)  # type: ignore[arg-type]
    expected = [naive_loglikelihood(model, tokenizer, context, continuation) for context, continuation in REQUESTS]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert backend.batch_size == 2
    longest = max(len(sum(backend.tokenize_request(*request), [])) - 1 for request in REQUESTS)
    attempts = [batch_rows(longest, 16)]  # the longest inputs first, as many as fit in a pass's cells
    while attempts[-1] > 2:
        attempts.append(attempts[-1] // 2)
    assert wrapped.rows[: len(attempts)] == attempts
    wrapped.rows.clear()
    backend.loglikelihoods(REQUESTS[:6])
    assert max(wrapped.rows) == 2


def test_out_of_memory_with_a_single_row_is_raised(tiny: dict[str, Any]) -> None:
    model, tokenizer = tiny["gpt2"]
    backend = HFBackend(RunsOutOfMemory(model, max_rows=0), tokenizer, label="gpt2")  # type: ignore[arg-type]
    with pytest.raises(torch.OutOfMemoryError):
        backend.loglikelihoods(REQUESTS[:3])
    assert backend.batch_size == 1


@pytest.mark.parametrize("context", ["A, B, A,", "A, B, A, ", ""])
def test_empty_continuation_is_an_error(tiny: dict[str, Any], context: str) -> None:
    backend = HFBackend(*tiny["gpt2"], label="gpt2")
    with pytest.raises(ValueError, match="continuation"):
        backend.loglikelihoods([(ALTERNATION, " A"), (context, "")])


def test_close_drops_the_model(tiny: dict[str, Any]) -> None:
    backend = HFBackend(*tiny["llama"], label="llama")
    backend.close()
    assert backend.model is None and backend.tokenizer is None
    with pytest.raises(RuntimeError, match="closed"):
        backend.loglikelihoods([(ALTERNATION, " A")])


class OutOfMemoryAboveTokens(torch.nn.Module):
    """Wraps a model so a forward pass over more than ``max_tokens`` positions raises torch.OutOfMemoryError."""

    def __init__(self, inner: PreTrainedModel, max_tokens: int) -> None:
        super().__init__()
        self.inner = inner
        self.max_tokens = max_tokens
        self.widths: list[int] = []

    @property
    def config(self) -> Any:
        return self.inner.config

    @property
    def dtype(self) -> torch.dtype:
        return self.inner.dtype

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.inner.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor, **kwargs: Any) -> Any:
        self.widths.append(input_ids.shape[1])
        if input_ids.shape[1] > self.max_tokens:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.inner(input_ids=input_ids, **kwargs)


def test_out_of_memory_halves_the_pack_and_remembers_it(tiny: dict[str, Any]) -> None:
    model, tokenizer = tiny["llama"]
    longest = max(len(sum(HFBackend(model, tokenizer, label="llama").tokenize_request(*r), [])) for r in REQUESTS)
    wrapped = OutOfMemoryAboveTokens(model, max_tokens=longest + 10)
    backend = HFBackend(wrapped, tokenizer, label="llama", pack_tokens=4 * longest)  # type: ignore[arg-type]
    expected = [naive_loglikelihood(model, tokenizer, context, continuation) for context, continuation in REQUESTS]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert backend.packing_checked is True
    assert backend.pack_tokens <= longest + 10
    wrapped.widths.clear()
    backend.loglikelihoods(REQUESTS)
    assert max(wrapped.widths) <= longest + 10


def test_a_sequence_too_long_for_memory_on_its_own_is_raised(tiny: dict[str, Any]) -> None:
    model, tokenizer = tiny["llama"]
    backend = HFBackend(OutOfMemoryAboveTokens(model, max_tokens=3), tokenizer, label="llama")  # type: ignore[arg-type]
    backend.packing_checked = True
    with pytest.raises(torch.OutOfMemoryError):
        backend.loglikelihoods([(LONG_CONTEXT, " A"), (LONG_CONTEXT, " B"), (ALTERNATION, " A")])


class IgnoresCustomMasks(OutOfMemoryAboveTokens):
    """A model whose forward drops a pack's layout (its 4-D mask or, with sdpa, no mask, and its explicit
    positions), as some architectures' code does; padded batches come with a 2-D mask and keep theirs."""

    def forward(self, input_ids: torch.Tensor, **kwargs: Any) -> Any:
        if kwargs["attention_mask"] is None or kwargs["attention_mask"].dim() == 4:
            kwargs["attention_mask"] = kwargs["position_ids"] = None
        return super().forward(input_ids, **kwargs)


def test_models_that_ignore_the_tree_mask_fall_back_to_padded_batches(tiny: dict[str, Any]) -> None:
    model, tokenizer = tiny["opt"]
    backend = HFBackend(IgnoresCustomMasks(model, max_tokens=10_000), tokenizer, label="opt")  # type: ignore[arg-type]
    expected = [naive_loglikelihood(model, tokenizer, context, continuation) for context, continuation in REQUESTS]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert backend.packing_checked is False


def test_inputs_longer_than_a_pack_use_padded_batches(tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A pack of one long sequence shares nothing and attends along its path slower than a padded batch."""
    model, tokenizer = tiny["gpt2"]
    backend = HFBackend(model, tokenizer, label="gpt2", pack_tokens=8)
    packed: list[tuple[int, ...]] = []
    forward_pack = backend._forward_pack

    def recording(pack: Any, *args: Any) -> Any:
        packed.extend(pack.paths)
        return forward_pack(pack, *args)

    monkeypatch.setattr(backend, "_forward_pack", recording)
    expected = [naive_loglikelihood(model, tokenizer, *request) for request in REQUESTS]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert packed and all(len(sequence) <= 8 for sequence in packed)


def test_inputs_longer_than_a_sliding_window_use_padded_batches(tiny: dict[str, Any]) -> None:
    model, tokenizer = tiny["llama"]
    backend = HFBackend(model, tokenizer, label="llama")
    model.config.sliding_window = 8
    try:
        expected = [naive_loglikelihood(model, tokenizer, *request) for request in REQUESTS[:4]]
        assert backend.loglikelihoods(REQUESTS[:4]) == pytest.approx(expected, abs=TOLERANCE, rel=0)
        assert backend.packing_checked is None
    finally:
        del model.config.sliding_window


SEQUENCES = [(1, 2, 3, 4), (1, 2, 3), (1, 2, 5), (1, 6), (7, 8, 9), (1, 2, 3, 4)]


def trie_size(sequences: list[tuple[int, ...]]) -> int:
    return len({sequence[:end] for sequence in sequences for end in range(1, len(sequence) + 1)})


@pytest.mark.parametrize("budget", [1, 3, 5, 100])
def test_packs_lay_out_each_sequence_along_a_path_of_its_own_tokens(budget: int) -> None:
    packs = pack_prefixes(SEQUENCES, budget)
    assert sorted(key for pack in packs for key in pack.paths) == sorted(set(SEQUENCES))
    for pack in packs:
        assert len(pack) <= max(budget, max(len(key) for key in pack.paths))
        for sequence, path in pack.paths.items():
            assert [pack.tokens[node] for node in path] == list(sequence)
            assert [pack.positions[node] for node in path] == list(range(len(sequence)))
            assert [pack.parents[node] for node in path] == [-1, *path[:-1]]
    if budget == 100:
        assert len(packs) == 1 and len(packs[0]) == trie_size(SEQUENCES)


def test_ancestor_mask_lets_a_node_see_its_ancestors_and_itself_only() -> None:
    pack = pack_prefixes(SEQUENCES, 100)[0]
    mask = ancestor_mask(pack.parents, torch.float32)[0, 0]
    assert mask.shape == (len(pack), len(pack))
    for path in pack.paths.values():
        for depth, node in enumerate(path):
            visible = set((mask[node] == 0).nonzero().flatten().tolist())
            assert visible == set(path[: depth + 1])


def test_onednn_linears_are_exact_and_restored() -> None:
    layer = torch.nn.Linear(96, 40)
    inputs = torch.randn(3, 7, 96)
    expected = layer(inputs)
    with onednn_linears(layer) as patched:
        assert patched == (1 if onednn_available() else 0)
        with onednn_linears(layer) as nested:
            assert nested == 0
        got = layer(inputs)
    assert "forward" not in layer.__dict__
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_sdpa_models_attend_in_blocks_over_ancestors_only(
    tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With sdpa, a pack's attention runs in blocks of consecutive nodes, each over its queries' ancestors only:
    a block's keys are a path and a few branches, not the whole pack."""
    model, tokenizer = tiny["llama"]
    layouts: list[tree_attention.TreeLayout] = []

    def recording(*args: Any, **kwargs: Any) -> tree_attention.TreeLayout:
        layouts.append(tree_attention.tree_layout(*args, **kwargs))
        return layouts[-1]

    monkeypatch.setattr(scoring, "tree_layout", recording)
    backend = HFBackend(model, tokenizer, label="llama", path="tree")
    expected = [naive_loglikelihood(model, tokenizer, *request) for request in REQUESTS]
    assert backend.loglikelihoods(REQUESTS) == pytest.approx(expected, abs=TOLERANCE, rel=0)
    assert layouts and all(layout.mask.shape[2] == tree_attention.BLOCK_QUERIES for layout in layouts)
    assert max(layout.nodes for layout in layouts) > 2 * tree_attention.BLOCK_QUERIES
    assert all(
        layout.key_index.shape[1] < layout.nodes
        for layout in layouts
        if layout.nodes > 2 * tree_attention.BLOCK_QUERIES
    )
    assert model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("kind", KINDS)
def test_an_input_longer_than_the_context_is_not_scored_and_the_rest_are_exact(tiny: dict[str, Any], kind: str) -> None:
    """MAX_POSITIONS is the tiny models' context: an input past it is TOO_LONG, never a score of a truncated prompt."""
    from models.under_test import TOO_LONG
    from tests.tiny_models import MAX_POSITIONS

    model, tokenizer = tiny[kind]
    backend = HFBackend(model, tokenizer, label=kind)
    assert backend.context_length == MAX_POSITIONS
    fits, too_long = "A, B, " * 40, "A, B, " * 200
    assert (
        len(backend.tokenize_request(too_long, " A")[0]) > MAX_POSITIONS >= len(backend.tokenize_request(fits, " A")[0])
    )
    scores = backend.loglikelihoods([(too_long, " A"), (fits, " A"), (too_long, " B")])
    assert scores[0] == scores[2] == TOO_LONG
    assert scores[1] == pytest.approx(naive_loglikelihood(model, tokenizer, fits, " A"), abs=TOLERANCE, rel=0)


def test_the_context_length_ignores_the_tokenizers_no_limit_sentinel(tiny: dict[str, Any]) -> None:
    from models.scoring import context_length

    model, tokenizer = tiny["gpt2"]
    tokenizer_without_limit = type("Tokenizer", (), {"model_max_length": int(1e30)})()
    config_without_positions = type("Model", (), {"config": None})()
    assert context_length(config_without_positions, tokenizer_without_limit) is None
    assert context_length(config_without_positions, type("Tokenizer", (), {"model_max_length": 512})()) == 512
    assert context_length(model, tokenizer_without_limit) == model.config.n_positions


def test_a_prompt_too_long_for_the_model_raises_prompt_too_long(tiny: dict[str, Any]) -> None:
    from generators import Case
    from models.under_test import ModelUnderTest, PromptTooLong

    model = ModelUnderTest(backend=HFBackend(*tiny["opt"], label="opt"), label="opt")
    with pytest.raises(PromptTooLong, match="the prompt is longer than opt's context of 256 tokens: not scored"):
        model.score(Case("A, B, " * 200, (" A", " B"), 0))
    assert model.score(Case("A, B, A,", (" A", " B"), 1)).logprobs[0] < 0


def test_the_head_queue_flushes_after_enough_scored_positions_or_enough_computed_tokens() -> None:
    """Long prompts have one scored position per pass: the queue must not hold 128 passes (minutes of silence)."""
    head = torch.nn.Linear(4, 10, bias=False)
    by_tokens = scoring.HeadQueue(head, rows=128, tokens=100)
    by_tokens.add(torch.zeros(1, 4), [(0, [(0, 3)])], computed=60)
    assert not by_tokens.ready()
    by_tokens.add(torch.zeros(1, 4), [(1, [(0, 5)])], computed=60)
    assert by_tokens.ready()
    assert [index for index, _ in by_tokens.flush()] == [0, 1] and not by_tokens.ready()
    by_rows = scoring.HeadQueue(head, rows=2, tokens=10**6)
    by_rows.add(torch.zeros(2, 4), [(0, [(0, 1)]), (1, [(1, 2)])], computed=2)
    assert by_rows.ready()
