"""Negated QA (Inverse Scaling Prize, round 1, NeQA; lm-evaluation-harness ``inverse_scaling_neqa``): answer a
two-option multiple-choice question that says "not".

``Which of these is not a mammal?`` with options ``A. trout`` and ``B. horse`` must be answered " A". A model that
matches the topic to the option most associated with it answers the un-negated question; better topic knowledge
strengthens that pull, which is why the prize found this getting worse with scale before it got better (a U
shape). The prize's layout (``A.``/``B.`` lines, ``Answer:``, classes " A" and " B" in equal shares); category
questions instead of the prize's negated OpenBookQA sentences, so every answer is checkable (see
``generators/negated_qa.py``).
"""

import pytest
from hypothesis import given

from generators import Case, negated_qa_cases
from models.under_test import ModelUnderTest


@pytest.mark.behaviour(required_rate=0.5)
@given(case=negated_qa_cases())
def test_negated_qa(case: Case, lm: ModelUnderTest) -> None:
    scored = lm.score(case)
    assert scored.right, scored.explain()
