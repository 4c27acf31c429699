"""Modus tollens (Inverse Scaling Prize, round 2; lm-evaluation-harness ``inverse_scaling_modus_tollens``): judge
an argument by its form, not by how plausible its conditional is.

``If John has a pet, then John has a dog. John doesn't have a dog. Therefore, John doesn't have a pet.`` is valid
whatever the world is like, so "Is the conclusion correct?" must be answered Yes. Larger models judge statements
by world knowledge more readily (a pet need not be a dog) and were found to answer No more often as they grew.

Unlike the prize's data (every answer Yes, so its rate measured a preference for "Yes"), half the cases are the
invalid twin, denying the antecedent, with the same second statement and conclusion and the conditional the
plausible way round (``If John has a dog, then John has a pet``): the answer is No, and nothing but the
conditional's direction tells the two apart (``generators/modus_tollens.py``).
"""

import pytest
from hypothesis import given

from generators import Case, modus_tollens_cases
from models.under_test import ModelUnderTest


@pytest.mark.behaviour(required_rate=0.5)
@given(case=modus_tollens_cases())
def test_modus_tollens(case: Case, lm: ModelUnderTest) -> None:
    scored = lm.score(case)
    assert scored.right, scored.explain()
