"""Memo-trap cases are right by construction, checked against the data file read independently of the generator,
and the data file holds what the rate relies on: fitting words, both kinds, distinct classes."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis.errors import InvalidArgument

from behaviours import test_memo_trap as behaviour
from generators import Case, memo_trap_cases
from generators.memo_trap import PHRASES, build_memo_trap_case, load_phrases
from runner.sampling import draw_examples
from tests.test_generators import draw

PROVERBS = Path(__file__).parents[1] / "generators" / "data" / "proverbs.csv"
HEADER = "prefix,ending,kind,requested,source\n"


def _rows() -> list[dict[str, str]]:
    with PROVERBS.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_data_has_forty_phrases_of_each_kind_each_with_its_own_fitting_words() -> None:
    rows = _rows()
    assert len({row["prefix"] for row in rows}) == len(rows)
    assert all(count >= 40 for count in Counter(row["kind"] for row in rows).values())
    for row in rows:
        words = row["requested"].split()
        assert len(words) == 3 and row["ending"] not in words and row["source"], row
        classes = [f" {word}." for word in (row["ending"], *words)]
        assert not any(a != b and b.startswith(a) for a in classes for b in classes), row


@settings(max_examples=80, deadline=None)
@given(memo_trap_cases())
def test_the_answer_is_a_requested_word_of_the_phrase_and_the_wrong_class_its_famous_ending(case: Case) -> None:
    row = next(row for row in _rows() if case.prompt.endswith(": " + row["prefix"]))
    requested = re.search(r'"(\w+)"', case.prompt).group(1)
    assert requested in row["requested"].split()
    assert case.classes == (f" {requested}.", f" {row['ending']}.") and case.answer_index == 0
    assert case.axes["kind"] == row["kind"]


def test_the_counted_examples_are_distinct_and_draw_both_kinds_evenly() -> None:
    cases = [example.arguments["case"] for example in draw_examples(behaviour.test_memo_trap, seed=0, count=200)]
    assert len({case.id for case in cases}) == 200
    kinds = Counter(case.axes["kind"] for case in cases)
    assert kinds.keys() == {"proverb", "quote"} and max(kinds.values()) <= 120
    assert cases[0].domains == {"kind": ("proverb", "quote"), "frame": ("prize", "complete", "instead")}
    assert Counter(case.answer for case in cases).most_common(1)[0][1] <= 10


def test_kinds_and_frames_narrow_the_draw() -> None:
    cases = draw(memo_trap_cases(kinds=["quote"], frames=["prize"]), 30)
    assert {(case.axes["kind"], case.axes["frame"]) for case in cases} == {("quote", "prize")}
    assert all(case.prompt.startswith('Write a quote that ends in the word "') for case in cases)


def test_only_a_requested_word_of_the_phrase_is_asked_for() -> None:
    phrase = PHRASES[0]
    assert build_memo_trap_case(phrase, phrase.requested[0], "prize").answer == f" {phrase.requested[0]}."
    with pytest.raises(ValueError, match="is not a requested word"):
        build_memo_trap_case(phrase, "Tuesday", "prize")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("Honesty is the best,policy,proverb,policy path gift,proverb", "line 2: the words must all differ"),
        ("Honesty is the best,policy,proverb,,proverb", "line 2: no requested word"),
        ("Honesty is the best,policy,saying,path,proverb", "line 2: kind 'saying' is not one of"),
        ("Honesty is the best,policy,proverb,right-path,proverb", "line 2: every word must be one alphabetic word"),
    ],
)
def test_a_bad_row_fails_when_the_data_is_loaded(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "phrases.csv"
    path.write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)):
        load_phrases(path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kinds": "quote"}, "memo_trap_cases(kinds=...) takes a collection of names"),
        ({"kinds": []}, "memo_trap_cases(kinds=...) selects nothing"),
        ({"frames": ["shout"]}, "memo_trap_cases(frames=...) got unknown ['shout']"),
    ],
)
def test_invalid_options_fail_when_the_strategy_is_built(options: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        memo_trap_cases(**options)
