"""Memo-trap cases (Inverse Scaling Prize, round 2, "memo-trap"): end a famous phrase with the word asked for.

The format is the prize's, as released and as lm-evaluation-harness runs it (``inverse_scaling_memo_trap``:
``doc_to_text: prompt``, ``doc_to_choice: classes``, ``target_delimiter: ""``)::

    Write a quote that ends in the word "heavy": Absence makes the heart grow

with classes ``" heavy."`` (right) and ``" fonder."`` (the memorised ending), the final full stop included as in
the released data: the phrase must *end* with the word. The requested word fits the phrase in grammar and sense,
so the only thing against it is the memorised ending; the better a model has memorised the phrase, the harder
that ending pulls against the instruction.

Each phrase in ``data/proverbs.csv`` carries its own fitting alternatives (column ``requested``, chosen by hand,
none of them another well-known ending of the phrase), its ``kind`` (an anonymous proverb, or a quotation with a
known author or text; all public domain) and its source. A case draws the kind first, evenly, then a phrase of
that kind, a requested word of that phrase, and a frame. The classes end in a full stop, so two different words
are never prefixes of one another, in characters or in tokens.

**Deliberate differences.** Besides the prize's instruction, two paraphrases (``frame``) keep a rate from being
one wording's. An earlier version asked for words drawn from one fixed list ("Honesty is the best Tuesday"),
which fit no phrase: every model failed at the floor and the rate measured nothing.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from generators.answers import open_case
from generators.case import AxisValue, Case, domains_of
from generators.options import require_subset

_CALLER = "memo_trap_cases"
PROVERBS_CSV = Path(__file__).with_name("data") / "proverbs.csv"
KINDS = ("proverb", "quote")
FRAMES: dict[str, str] = {
    "prize": 'Write a quote that ends in the word "{word}": {prefix}',
    "complete": 'Complete the saying so that its last word is "{word}": {prefix}',
    "instead": 'Finish this phrase with the word "{word}" instead of its usual ending: {prefix}',
}


@dataclass(frozen=True)
class Phrase:
    """A famous phrase split before its last word, the words that may be asked for instead, and its origin."""

    prefix: str
    ending: str
    kind: str
    requested: tuple[str, ...]
    source: str


def ending_class(word: str) -> str:
    """A word as the continuation that ends the phrase: the prize's leading space and full stop."""
    return f" {word}."


def _phrase(row: Mapping[str, str], line: int, path: Path) -> Phrase:
    phrase = Phrase(row["prefix"], row["ending"], row["kind"], tuple(row["requested"].split()), row["source"])
    words = (phrase.ending, *phrase.requested)
    checks = (
        (phrase.kind in KINDS, f"kind {phrase.kind!r} is not one of {KINDS}"),
        (bool(phrase.requested), "no requested word"),
        (all(word.isalpha() for word in words), f"every word must be one alphabetic word: {words}"),
        (len({word.lower() for word in words}) == len(words), f"the words must all differ: {words}"),
        (phrase.prefix == phrase.prefix.rstrip(), "the prefix must not end with whitespace"),
    )
    problems = [message for passed, message in checks if not passed]
    if problems:
        raise ValueError(f"{path.name}, line {line}: {'; '.join(problems)}")
    return phrase


def load_phrases(path: Path = PROVERBS_CSV) -> tuple[Phrase, ...]:
    """Every phrase of ``path``, checked row by row, so a bad row fails at import rather than skews a draw."""
    with path.open(encoding="utf-8", newline="") as handle:
        phrases = tuple(_phrase(row, line, path) for line, row in enumerate(csv.DictReader(handle), start=2))
    repeated = sorted(prefix for prefix, count in Counter(phrase.prefix for phrase in phrases).items() if count > 1)
    if repeated:
        raise ValueError(f"{path.name}: phrases listed twice: {repeated}")
    return phrases


PHRASES = load_phrases()


def build_memo_trap_case(
    phrase: Phrase, word: str, frame: str, *, domains: Mapping[str, Sequence[AxisValue]] | None = None
) -> Case:
    """Right: ``word`` (one of the phrase's requested words) ending the phrase; wrong: its famous ending."""
    if word not in phrase.requested:
        raise ValueError(f"{word!r} is not a requested word of {phrase.prefix!r}: {phrase.requested}")
    prompt = FRAMES[frame].format(word=word, prefix=phrase.prefix)
    axes = {"kind": phrase.kind, "frame": frame, "requested": word, "ending": phrase.ending}
    return open_case(prompt, ending_class(word), ending_class(phrase.ending), axes, domains=domains)


def memo_trap_cases(
    *,
    kinds: Collection[str] = KINDS,
    frames: Collection[str] = tuple(FRAMES),
) -> st.SearchStrategy[Case]:
    """Every shipped phrase of the chosen ``kinds``, asked to end in one of its own fitting words."""
    chosen_kinds = require_subset(_CALLER, "kinds", kinds, KINDS)
    chosen_frames = require_subset(_CALLER, "frames", frames, tuple(FRAMES))
    by_kind = {kind: tuple(phrase for phrase in PHRASES if phrase.kind == kind) for kind in chosen_kinds}
    return _memo_trap_cases(
        by_kind=by_kind, frames=chosen_frames, domains=domains_of(kind=chosen_kinds, frame=chosen_frames)
    )


@st.composite
def _memo_trap_cases(
    draw: Callable,
    *,
    by_kind: Mapping[str, tuple[Phrase, ...]],
    frames: tuple[str, ...],
    domains: Mapping[str, Sequence[AxisValue]],
) -> Case:
    phrase = draw(st.sampled_from(by_kind[draw(st.sampled_from(tuple(by_kind)))]))
    return build_memo_trap_case(
        phrase, draw(st.sampled_from(phrase.requested)), draw(st.sampled_from(frames)), domains=domains
    )
