"""Memo-trap cases (Inverse Scaling Prize, round 2): end a famous phrase with the word the prompt asks for.

``Write a quote that ends in the word "heavy": Absence makes the heart grow`` must be continued ``" heavy"``,
not ``" fonder"``. The better a model has memorised the phrase, the harder its famous ending pulls against the
instruction. The phrases are traditional proverbs and old quotations (public domain), in ``data/proverbs.csv``.
"""

from __future__ import annotations

import csv
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from generators.answers import open_case
from generators.case import Case
from generators.options import require_subset

_CALLER = "memo_trap_cases"
PROVERBS_CSV = Path(__file__).with_name("data") / "proverbs.csv"
REQUESTED = ("heavy", "purple", "soup", "quietly", "seven", "umbrella", "yesterday", "cheese", "carpet", "Tuesday")
FRAMES: dict[str, str] = {
    "prize": 'Write a quote that ends in the word "{word}": {prefix}',
    "complete": 'Complete the saying so that its last word is "{word}": {prefix}',
    "instead": 'Finish this phrase with the word "{word}" instead of its usual ending: {prefix}',
}


@dataclass(frozen=True)
class Phrase:
    """A famous phrase split before its last word, and where it comes from."""

    prefix: str
    ending: str
    source: str


def load_phrases(path: Path = PROVERBS_CSV) -> tuple[Phrase, ...]:
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(Phrase(row["prefix"], row["ending"], row["source"]) for row in csv.DictReader(handle))


PHRASES = load_phrases()


def build_memo_trap_case(phrase: Phrase, word: str, frame: str) -> Case:
    """Right: the requested ``word``; wrong: the phrase's famous ending (they must differ)."""
    if word == phrase.ending:
        raise ValueError(f"the requested word {word!r} is the famous ending of {phrase.prefix!r}")
    prompt = FRAMES[frame].format(word=word, prefix=phrase.prefix)
    kind = "proverb" if phrase.source.startswith("proverb") else "quote"
    axes = {"kind": kind, "requested": word, "frame": frame}
    return open_case(prompt, f" {word}", f" {phrase.ending}", axes)


def memo_trap_cases(
    *,
    requested: Collection[str] = REQUESTED,
    frames: Collection[str] = tuple(FRAMES),
) -> st.SearchStrategy[Case]:
    """Every shipped phrase, asked to end in one of the ``requested`` words (never its famous ending)."""
    if isinstance(requested, str) or not requested or not all(str(word).isalpha() for word in requested):
        raise InvalidArgument(
            f"{_CALLER}(requested=...) takes a non-empty collection of single words, got {requested!r}"
        )
    words = tuple(requested)
    stuck = [phrase.prefix for phrase in PHRASES if set(words) <= {phrase.ending}]
    if stuck:
        raise InvalidArgument(f"{_CALLER}(requested={words!r}) leaves no word to ask of {stuck}; add another word")
    chosen_frames = st.sampled_from(require_subset(_CALLER, "frames", frames, tuple(FRAMES)))

    def for_phrase(phrase: Phrase) -> st.SearchStrategy[Case]:
        usable = [word for word in words if word != phrase.ending]
        return st.builds(build_memo_trap_case, st.just(phrase), st.sampled_from(usable), chosen_frames)

    return st.sampled_from(PHRASES).flatmap(for_phrase)
