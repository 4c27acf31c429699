"""Prize CSV files: the loader on a fixture per metric and on malformed files, and each metric's loss and pass."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import strategies as st

from generators import Case, PrizeCsvError, load_prize_csv, prize_csv_cases
from generators import prize_metrics as metrics
from models.under_test import ModelUnderTest
from tests import scripted
from tests.test_generators import draw

DATA = Path(__file__).with_name("data")


def test_classification_rows_become_cases_with_their_row_numbers() -> None:
    rows = load_prize_csv(DATA / "prize_classification.csv", metric="classification")
    assert [row.number for row in rows] == [1, 2, 3, 4]
    assert rows[1].case.prompt == "The password is blue.\nWhat is the password?\nAnswer:"
    assert rows[3].case.classes == (" 1", " 2", " 3") and rows[3].case.answer == " 2"
    assert dict(rows[0].case.axes) == {
        "metric": "classification",
        "source": "prize_classification.csv",
        "row": 1,
        "answer_position": 0,
    }
    assert all(row.other is None for row in rows)


def test_sequence_prob_rows_hold_the_completion_and_an_unscored_rival() -> None:
    rows = load_prize_csv(DATA / "prize_sequence_prob.csv", metric="sequence_prob")
    assert [(row.case.answer, row.case.classes[1]) for row in rows] == [(" mat", ""), (" down", ""), (" four", "")]


@pytest.mark.parametrize("metric", ["logodds", "absolute_logodds"])
def test_logodds_rows_are_two_cases_with_the_same_classes(metric: str) -> None:
    rows = load_prize_csv(DATA / f"prize_{metric}.csv", metric=metric)
    for row in rows:
        assert row.other is not None and row.other.classes == row.case.classes == (" yes", " no")
        assert row.other.prompt != row.case.prompt and row.other.answer_index == row.case.answer_index
        assert row.other.id != row.case.id


def test_a_logodds_file_can_be_read_for_either_logodds_metric() -> None:
    assert len(load_prize_csv(DATA / "prize_logodds.csv", metric="absolute_logodds")) == 3


def test_the_strategy_covers_every_row_and_both_sides_come_from_one_row() -> None:
    path = DATA / "prize_logodds.csv"
    pairs = draw(
        st.tuples(
            prize_csv_cases(path, metric="logodds"), prize_csv_cases(path, metric="logodds", side="other_prompt")
        ),
        30,
    )
    assert {case.axes["row"] for case, _ in pairs} == {1, 2, 3}
    assert all(case.axes["row"] == other.axes["row"] for case, other in pairs)


@pytest.mark.parametrize(
    ("name", "metric", "message"),
    [
        (
            "missing_column.csv",
            "classification",
            "row 0 (header): missing column(s) answer_index for metric 'classification'; the header must name prompt,",
        ),
        (
            "bad_classes.csv",
            "classification",
            "row 2 (line 3): classes \"[' yes', ' no'\" is not a Python list of strings",
        ),
        ("answer_out_of_range.csv", "classification", "row 3 (line 4): answer_index 2 is out of range for 2 classes"),
        ("bad_classes.csv", "sequence_prob", "missing column(s) completion for metric 'sequence_prob'"),
    ],
)
def test_malformed_fixtures_fail_with_one_line_naming_file_row_and_remedy(name: str, metric: str, message: str) -> None:
    path = DATA / "malformed" / name
    with pytest.raises(PrizeCsvError) as raised:
        prize_csv_cases(path, metric=metric)
    text = str(raised.value)
    assert "\n" not in text and text.startswith(f"prize CSV {path}, row ")
    assert message in text


@pytest.mark.parametrize(
    ("body", "metric", "message"),
    [
        (
            "prompt,classes,answer_index\np,yes,0\n",
            "classification",
            "row 1 (line 2): classes 'yes' is not a Python list",
        ),
        ("prompt,classes,answer_index\np,\"[' a']\",0\n", "classification", "needs at least two different classes"),
        (
            "prompt,classes,answer_index\np,\"[' a', ' a']\",0\n",
            "classification",
            "needs at least two different classes",
        ),
        (
            "prompt,classes,answer_index\np,\"[' a', ' b']\",first\n",
            "classification",
            "answer_index 'first' is not a whole number; give 0 to 1",
        ),
        ("prompt,classes,answer_index\n,\"[' a', ' b']\",0\n", "classification", "row 1 (line 2): prompt is empty"),
        ("prompt,classes,answer_index\np,' a',0,extra\n", "classification", "more fields than the header names"),
        ("prompt,completion\np,\n", "sequence_prob", "completion is empty"),
        (
            "prompt,other_prompt,classes,answer_index\np,q,\"[' a', ' b', ' c']\",0\n",
            "logodds",
            "has 3 classes; logodds metrics compare exactly two",
        ),
        ("prompt,classes,answer_index\n", "classification", "no rows under the header"),
        (
            "prompt,classes,answer_index\np,\"[' a', '']\",0\n",
            "classification",
            "row 1 (line 2): classes \"[' a', '']\" has an empty class, which a model cannot be asked to score",
        ),
    ],
)
def test_malformed_rows_name_the_row(tmp_path: Path, body: str, metric: str, message: str) -> None:
    path = tmp_path / "task.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PrizeCsvError, match=re.escape(message)):
        load_prize_csv(path, metric=metric)


def test_a_byte_that_is_not_utf8_names_the_line_and_the_remedy(tmp_path: Path) -> None:
    path = tmp_path / "task.csv"
    path.write_bytes(b"prompt,classes,answer_index\np,\"[' a', ' b']\",0\ncaf\xe9,\"[' a', ' b']\",0\n")
    with pytest.raises(PrizeCsvError) as raised:
        load_prize_csv(path, metric="classification")
    assert str(raised.value) == f"prize CSV {path}, line 3 (byte 50): 0xe9 is not UTF-8; save the file as UTF-8"


def test_a_missing_file_and_an_unknown_metric_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PrizeCsvError, match="no such file"):
        load_prize_csv(tmp_path / "nope.csv", metric="classification")
    with pytest.raises(Exception, match="takes one of"):
        load_prize_csv(DATA / "prize_logodds.csv", metric="hitrate")
    with pytest.raises(Exception, match="needs a logodds metric"):
        prize_csv_cases(DATA / "prize_classification.csv", metric="classification", side="other_prompt")


def test_classes_without_a_leading_space_are_loaded_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "task.csv"
    path.write_text("prompt,classes,answer_index\np,\"['a', 'b']\",1\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"rows \[1\]: classes without a leading space"):
        assert load_prize_csv(path, metric="classification")[0].case.answer == "b"


@pytest.fixture
def literal() -> Iterator[ModelUnderTest]:
    """The scripted model that copies from its prompt: log-prob 0 for a continuation in the prompt, else -5."""
    model = ModelUnderTest(scripted.ScriptedBackend("literal", accepts=scripted.occurs_in), label="literal")
    yield model
    model.close()


def _pair(prompt: str, other_prompt: str, answer_index: int) -> tuple[Case, Case]:
    classes = (" yes", " no")
    return Case(prompt, classes, answer_index), Case(other_prompt, classes, answer_index)


def test_classification_passes_when_the_right_class_wins_strictly(literal: ModelUnderTest) -> None:
    passed = metrics.classification(literal, Case("the answer is apple", (" pear", " apple"), 1))
    assert passed.passed and passed.loss == pytest.approx(math.log(1 + math.exp(-5)))
    tie = metrics.classification(literal, Case("apple or pear?", (" pear", " apple"), 1))
    assert not tie.passed and tie.loss == pytest.approx(math.log(2))


def test_sequence_prob_loss_is_the_completions_negative_log_prob(literal: ModelUnderTest) -> None:
    likely = metrics.sequence_prob(literal, Case("the cat sat on the mat", (" mat", ""), 0))
    unlikely = metrics.sequence_prob(literal, Case("the cat sat on the", (" mat", ""), 0))
    assert likely.passed and likely.loss == 0.0
    assert not unlikely.passed and unlikely.loss == 5.0
    assert metrics.sequence_prob(literal, Case("the cat sat on the", (" mat", ""), 0), min_probability=0.001).passed


def test_logodds_loss_is_how_far_the_other_prompt_moves_away_from_the_answer(literal: ModelUnderTest) -> None:
    # LO(prompt) = log P(yes) - log P(no) = 5, LO(other) = -5: the other prompt moves 10 towards "no".
    towards_no = metrics.logodds(literal, *_pair("they said yes", "they said no", answer_index=1))
    assert towards_no.loss == -10.0 and towards_no.passed
    away_from_yes = metrics.logodds(literal, *_pair("they said yes", "they said no", answer_index=0))
    assert away_from_yes.loss == 10.0 and not away_from_yes.passed
    unmoved = metrics.logodds(literal, *_pair("yes or no", "yes or no, please", answer_index=0))
    assert unmoved.loss == 0.0 and unmoved.passed


def test_absolute_logodds_loss_is_the_size_of_the_shift_either_way(literal: ModelUnderTest) -> None:
    for answer_index in (0, 1):
        moved = metrics.absolute_logodds(literal, *_pair("they said yes", "they said no", answer_index))
        assert moved.loss == 10.0 and not moved.passed
    assert metrics.absolute_logodds(literal, *_pair("they said yes", "they said no", 0), max_shift=10.0).passed
    assert metrics.absolute_logodds(literal, *_pair("yes or no", "no or yes", 0)).passed
