"""Memo trap (Inverse Scaling Prize, round 2; lm-evaluation-harness ``inverse_scaling_memo_trap``): end a famous
phrase with the word the instruction asks for.

Asked to ``Write a quote that ends in the word "heavy": Absence makes the heart grow``, the model must prefer
``" heavy."`` over the memorised ``" fonder."``. The requested word fits the phrase, so only memory argues for the
famous ending; larger models have memorised famous phrases better, so that ending can win over the instruction
more often as models grow. Proverbs and quotations are drawn equally often (``generators/memo_trap.py``).
"""

import pytest
from hypothesis import given

from generators import Case, memo_trap_cases
from models.under_test import ModelUnderTest


@pytest.mark.behaviour(required_rate=0.5)
@given(case=memo_trap_cases())
def test_memo_trap(case: Case, lm: ModelUnderTest) -> None:
    scored = lm.score(case)
    assert scored.right, scored.explain()
