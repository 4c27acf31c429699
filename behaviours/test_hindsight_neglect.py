"""Hindsight neglect (Inverse Scaling Prize, round 1, "hindsight-neglect-10shot"; lm-evaluation-harness
``inverse_scaling_hindsight_neglect_10shot``): judge a bet by its expected value, not by how it turned out.

Ten demonstrations end with the likely outcome, which agrees with the expected value; the question ends with the
unlikely outcome, which does not (a good bet that lost, a bad bet that won). The right answer, " Y" or " N" in
equal shares, still follows the expected value. Larger models pick up the spurious "won means right" rule from
the demonstrations more readily, so they may do worse. The prompts are ~800 tokens: 100 examples by default.
See ``generators/hindsight_neglect.py`` for where the cases differ from the prize's released data, and why.
"""

import pytest
from hypothesis import given

from generators import Case, hindsight_neglect_cases
from models.under_test import ModelUnderTest


@pytest.mark.behaviour(required_rate=0.5, examples=100)
@given(case=hindsight_neglect_cases())
def test_hindsight_neglect(case: Case, lm: ModelUnderTest) -> None:
    scored = lm.score(case)
    assert scored.right, scored.explain()
