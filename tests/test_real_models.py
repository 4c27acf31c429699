"""The real packaged models through the suite's own loading and scoring path (slow: run with --run-slow)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from generators import TEMPLATES, build_repetition_case
from generators.alphabets import ALPHABETS, Pattern
from models.loading import LoadOptions, load_model
from models.registry import load_families
from models.under_test import ModelUnderTest

pytestmark = pytest.mark.slow

OFFLINE = {spec.label: spec for spec in load_families()["offline"].sizes}


@pytest.fixture(scope="module", params=sorted(OFFLINE))
def real_model(request: pytest.FixtureRequest) -> Iterator[ModelUnderTest]:
    model, facts = load_model(OFFLINE[request.param], LoadOptions(device="cpu", dtype=torch.float32), print)
    assert facts["params"] == OFFLINE[request.param].params
    yield model
    model.close()


def cases() -> list:
    patterns = [
        Pattern(alphabet=a.name, a=a.symbols[0], b=a.symbols[1], listing=" ".join(a.symbols)) for a in ALPHABETS
    ]
    return [build_repetition_case(p, 3 + i % 8, TEMPLATES[i % len(TEMPLATES)]) for i, p in enumerate(patterns)]


def naive(model: ModelUnderTest, context: str, continuation: str) -> float:
    """One request, unpadded, full logits: the reference the batched scorer must equal."""
    backend = model.backend
    context_ids, continuation_ids = backend.tokenize_request(context, continuation)
    ids = torch.tensor([context_ids + continuation_ids])
    with torch.inference_mode():
        logits = backend.model(input_ids=ids[:, :-1]).logits.float().log_softmax(-1)[0]
    positions = range(len(context_ids) - 1, len(context_ids) - 1 + len(continuation_ids))
    return sum(logits[position, token].item() for position, token in zip(positions, continuation_ids, strict=True))


def test_batched_scores_equal_one_at_a_time_on_real_models(real_model: ModelUnderTest) -> None:
    requests = [(case.prompt, continuation) for case in cases() for continuation in case.classes]
    batched = real_model.loglikelihoods(requests)
    for (context, continuation), value in zip(requests, batched, strict=True):
        assert value == pytest.approx(naive(real_model, context, continuation), abs=1e-4)


def test_single_token_classes_are_a_property_of_the_case(real_model: ModelUnderTest) -> None:
    """SmolLM2 splits " 7" into " " + "7": the comparison above covers multi-token classes on a real model."""
    lengths = {
        continuation: len(real_model.backend.tokenize_request(case.prompt, continuation)[1])
        for case in cases()
        for continuation in case.classes
    }
    assert lengths[" A"] == 1
    if real_model.label == "smollm2-135m":
        assert lengths[" 1"] == 2 and lengths[" alpha"] == 1
