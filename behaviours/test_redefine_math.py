"""Redefine math (Inverse Scaling Prize, round 1, "redefine-math"; lm-evaluation-harness
``inverse_scaling_redefine_math``): use a definition the prompt just gave.

The prize's format: a constant or an operator is redefined and the first digit of a use of it is asked
(``Redefine π as 462. Q: What is the first digit of π? A:`` must be answered ``" 4"``, not ``" 3"``; ``Redefine +
as multiplication. Q: What is the first digit of 56 + 7? A:`` ``" 3"``, not ``" 6"``). Both classes are one digit,
so their length cannot decide. The more firmly a model has learnt what π or + mean, the more that prior can
override the in-context definition, so larger models may do worse.
"""

import pytest
from hypothesis import given

from generators import Case, redefine_math_cases
from models.under_test import ModelUnderTest


@pytest.mark.behaviour(required_rate=0.5)
@given(case=redefine_math_cases())
def test_redefine_math(case: Case, lm: ModelUnderTest) -> None:
    scored = lm.score(case)
    assert scored.right, scored.explain()
