"""The validity audit: each check fails on a behaviour broken in its way, and passes on the library."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import Case
from runner.audit import audit_cases, prefix_cases, prior_rate
from runner.sampling import draw_cases, draw_examples
from tests.project import results

BEHAVIOURS = sorted(path.stem for path in (Path(__file__).parents[1] / "behaviours").glob("test_*.py"))


def characters(context: str, continuation: str) -> tuple[list[int], list[int]]:
    """A tokenizer of one token per character: digits tokenize so in the real models too."""
    return [ord(c) for c in context], [ord(c) for c in continuation]


def audited(strategy: st.SearchStrategy[Case], count: int = 200) -> list[str]:
    return audit_cases("broken", draw_cases(strategy, count=count)).failures()


def test_prefix_classes_are_found() -> None:
    """``" 1"`` against ``" 17"``: summed log-probs favour the shorter whatever the model knows."""
    numbers = st.integers(1, 9).map(lambda d: open_case("Q: which?\nA:", f" {d}", f" {d}7", {}))
    cases = draw_cases(numbers, count=9)
    assert prefix_cases(cases, characters) == 9
    equal = st.integers(1, 9).map(lambda d: open_case("Q: which?\nA:", f" {d}", f" {d % 9 + 1}", {}))
    assert prefix_cases(draw_cases(equal, count=9), characters) == 0


def test_a_constant_answer_is_found() -> None:
    always_yes = st.sampled_from(["It rains.", "It snows.", "It is hot."]).map(
        lambda fact: open_case(f"{fact} Is that so?\nAnswer:", " Yes", " No", {})
    )
    assert any("the right answer is ' Yes' in 100% of cases" in line for line in audited(always_yes))


def test_a_question_counted_twice_is_found() -> None:
    """The same question labelled both ways is two case ids but one question."""
    relabelled = st.builds(lambda index: Case("Q: yes or no?\nA:", (" yes", " no"), index), st.integers(0, 1))
    assert any("1 questions are counted more than once" in line for line in audited(relabelled, count=2))


def test_a_leaked_demonstration_is_found() -> None:
    def case(question: str) -> Case:
        shown = f"{question} Answer: A"
        return open_case(
            f"{shown}\n\n{question} Answer:", " A", " B", {}, question=question, demonstrations=(question,)
        )

    leaking = st.sampled_from(["Pick A.", "Choose A.", "Say A."]).map(case)
    assert any("3 prompts show their own question" in line for line in audited(leaking, count=3))


def test_a_skewed_axis_is_found() -> None:
    """Declared uniform over 0-3, drawn with 0 three times as likely: the chi-square test rejects it."""
    skewed = st.sampled_from([0, 0, 0, 1, 2, 3]).map(
        lambda value: open_case(f"Q{value}?\nA:", " x", " y", {"level": value}, domains={"level": (0, 1, 2, 3)})
    )
    strategy = st.tuples(skewed, st.integers(0, 10**6)).map(
        lambda pair: open_case(f"{pair[0].prompt} #{pair[1]}", " x", " y", pair[0].axes, domains=pair[0].domains)
    )
    assert any("axis 'level' departs from its declared uniform distribution" in line for line in audited(strategy))


def test_the_prior_control_scores_classes_after_content_free_prompts_only() -> None:
    """A model that prefers ' Yes' whatever it is asked: its prior wins every case whose answer is Yes."""
    cases = [open_case("Q?\nA:", " Yes", " No", {}), open_case("R?\nA:", " No", " Yes", {})]
    asked: list[tuple[str, str]] = []

    def score(requests: list[tuple[str, str]]) -> list[float]:
        asked.extend(requests)
        return [0.0 if option == " Yes" else -3.0 for _, option in requests]

    assert prior_rate(cases, score) == 0.5
    assert {prompt for prompt, _ in asked} == {"N/A", "[MASK]", ""}


@pytest.mark.parametrize("name", BEHAVIOURS)
def test_the_library_passes_the_model_free_audit(name: str) -> None:
    """Every shipped behaviour at its default count: no duplicates, no dominant answer, no leak, even axes."""
    module = importlib.import_module(f"behaviours.{name}")
    test = getattr(module, name)
    marker = next((mark for mark in getattr(test, "pytestmark", []) if mark.name == "behaviour"), None)
    count = marker.kwargs.get("examples", 200) if marker else 200
    cases = [next(iter(example.cases.values())) for example in draw_examples(test, seed=0, count=count)]
    assert len(cases) == count
    assert audit_cases(name, cases).failures() == []


def test_audit_alone_reports_every_behaviour_and_loads_no_more_than_it_needs(suite: pytest.Pytester) -> None:
    outcome = suite.runpytest("behaviours/", "--model-family", "scripted", "--audit", "--examples", "100")
    outcome.assert_outcomes(passed=2)
    outcome.stdout.fnmatch_lines(["*scalecheck: validity audit*", "behaviour *cases*duplicates*"])
    audit = results(suite)["audit"]["repetition_suppression"]
    assert audit["duplicates"] == 0 and audit["failures"] == [] and set(audit["prior_rate"]) == {"obeys", "completes"}


def test_a_normal_run_warns_under_the_table(suite: pytest.Pytester) -> None:
    broken = (
        "import pytest\nfrom hypothesis import given, strategies as st\nfrom generators.answers import open_case\n\n"
        "@pytest.mark.behaviour(required_rate=0.0)\n"
        "@given(case=st.sampled_from(['a', 'b', 'c']).map(lambda q: open_case(q + '?', ' Yes', ' No', {})))\n"
        "def test_always_yes(case, lm):\n    assert lm.score(case).right or True\n"
    )
    (suite.path / "behaviours" / "test_always_yes.py").write_text(broken)
    outcome = suite.runpytest("behaviours/test_always_yes.py", "--model-family", "scripted", "--examples", "3")
    outcome.stdout.fnmatch_lines(["validity audit: 1 warnings", "  warning: always_yes: the right answer is ' Yes'*"])
    report = (suite.path / "scalecheck-report" / "report.md").read_text()
    assert "### Validity audit" in report and "the right answer is ' Yes'" in report
