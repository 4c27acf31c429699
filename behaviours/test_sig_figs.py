"""Significant figures (Inverse Scaling Prize, round 2, "sig-figs"; lm-evaluation-harness
``inverse_scaling_sig_figs``): round to N significant figures, not N decimal places.

The prize's format: the number rounded both ways is listed as options A and B, and the model must prefer the letter
of the significant-figures rounding (``Please round 86451.3 to 2 significant digits. A. 86451.30 B. 86000
Answer:`` must be answered ``" B"``). A listed choice scores one letter against another, so the length of the
numbers cannot decide (it did when the numbers themselves were the classes), and the right letter is drawn, so a
letter preference scores half. Decimal places are the far more common request in text, so a model that has learnt
the common pattern well may answer it instead of the question asked, increasingly so with scale.
"""

import pytest
from hypothesis import given

from generators import Case, sig_figs_cases
from models.under_test import ModelUnderTest


@pytest.mark.behaviour(required_rate=0.5)
@given(case=sig_figs_cases())
def test_sig_figs(case: Case, lm: ModelUnderTest) -> None:
    scored = lm.score(case)
    assert scored.right, scored.explain()
