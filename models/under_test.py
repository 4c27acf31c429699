"""The model a behaviour test talks to: one question at a time in, batched and cached scoring underneath."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from generators.case import Case
from models.score_cache import ScoreStore

Request = tuple[str, str]

TOO_LONG = math.inf
"""What a backend returns for a request longer than the model's context: it was not scored. No log-probability
is positive, so this cannot be mistaken for a score (NaN could be a model's numeric failure)."""

STORE_EVERY = 1024
"""With a persistent store, requests are scored and stored this many at a time, so a killed run loses at most one
chunk. They are sorted first: prompts that share a prefix stay in one chunk, where the scorer shares it."""


class Backend(Protocol):
    """Anything that returns the log-likelihood of continuations given contexts, many at a time, and
    ``TOO_LONG`` for a request that does not fit the model's context (optionally ``context_length``, in tokens)."""

    label: str

    def loglikelihoods(
        self, requests: Sequence[Request], *, progress: Callable[[int], None] | None = None
    ) -> list[float]: ...

    def close(self) -> None: ...


def first_line(error: BaseException) -> str:
    """``Type: first line of its message``: what a one-line report keeps of a library's exception."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


class ScoringFailed(RuntimeError):
    """The model (its backend) raised while scoring: the model's fault, not the behaviour's, in one line."""


class PromptTooLong(Exception):
    """An example whose prompt does not fit the model's context: not scored, so neither a pass nor a fail."""


def request_problem(request: object) -> str | None:
    """Why a request cannot be scored by any model (None if it can): text in, text out, something to score."""
    if not (isinstance(request, tuple) and len(request) == 2 and all(isinstance(part, str) for part in request)):
        return f"a request must be a (context, continuation) pair of strings, got {request!r}"
    context, continuation = request
    if not continuation:
        return f"empty continuation after the context ending {context[-40:]!r}: there is nothing to score"
    return None


@dataclass(frozen=True)
class Scored:
    """A case and the model's summed log-probability of each of its classes."""

    case: Case
    logprobs: tuple[float, ...]

    def __repr__(self) -> str:
        rounded = ", ".join(f"{value:.3f}" for value in self.logprobs)
        return f"Scored(case={self.case.id!r}, classes={self.case.classes!r}, logprobs=({rounded}))"

    @property
    def choice(self) -> int:
        return max(range(len(self.logprobs)), key=self.logprobs.__getitem__)

    @property
    def right(self) -> bool:
        """The right class beats every other class strictly: a tie is not a win."""
        answer = self.logprobs[self.case.answer_index]
        return all(answer > other for i, other in enumerate(self.logprobs) if i != self.case.answer_index)

    @property
    def loss(self) -> float:
        """The prize's classification loss: negative log-probability of the right class, normalised over the classes."""
        top = max(self.logprobs)
        log_total = top + math.log(sum(math.exp(value - top) for value in self.logprobs))
        return log_total - self.logprobs[self.case.answer_index]

    def explain(self) -> str:
        classes, answer = self.case.classes, self.case.answer_index
        rival = max((i for i in range(len(classes)) if i != answer), key=self.logprobs.__getitem__)
        return (
            f"the model preferred {classes[rival]!r} (log-prob {self.logprobs[rival]:.3f}) "
            f"over the right answer {classes[answer]!r} (log-prob {self.logprobs[answer]:.3f})"
        )


def _shifted(progress: Callable[[int], None], offset: int, finished: int) -> None:
    progress(offset + finished)


@dataclass(repr=False)
class ModelUnderTest:
    """Answers ``score(case)`` from a cache that batched passes fill, so test bodies stay one-question-at-a-time.

    In ``recording()`` mode it answers nothing: it notes the requests a pass over the examples would make, so
    they can be scored in one batched ``prefetch`` before the counted pass reads them back. With a ``store``,
    what the in-memory cache misses is looked up there first, and everything scored is written to it.
    """

    backend: Backend
    label: str
    store: ScoreStore | None = None
    _cache: dict[Request, float] = field(default_factory=dict)
    _recorded: list[Request] | None = None
    _scored: list[Scored] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"ModelUnderTest({self.label!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Keep Hypothesis' falsifying-example report to the label, not the score cache."""
        printer.text(repr(self))

    def score(self, case: Case) -> Scored:
        """Log-probability of each of the case's classes given its prompt (placeholder zeros while recording)."""
        scored = Scored(
            case, tuple(self.loglikelihoods([(case.prompt, continuation) for continuation in case.classes]))
        )
        if self._recorded is None:
            self._scored.append(scored)
        return scored

    def loglikelihoods(self, requests: Sequence[Request]) -> list[float]:
        """Summed log-probability of each continuation given its context, for behaviours that need raw scores."""
        if self._recorded is not None:
            self._recorded.extend(requests)
            return [0.0] * len(requests)
        self.prefetch(requests)
        values = [self._cache[request] for request in requests]
        if TOO_LONG in values:
            limit = getattr(self.backend, "context_length", None)
            size = f" of {limit} tokens" if limit else ""
            raise PromptTooLong(f"the prompt is longer than {self.label}'s context{size}: not scored")
        return values

    def prefetch(self, requests: Sequence[Request], *, progress: Callable[[int], None] | None = None) -> int:
        """Score every request not yet cached in one batched call; returns how many the model scored.
        progress(k) counts requests done, those found in the store included."""
        missing = list(dict.fromkeys(request for request in requests if request not in self._cache))
        if missing and self.store is not None:
            stored = self.store.get_many(missing)
            self._cache.update(stored)
            missing = [request for request in missing if request not in stored]
            self._score_in_chunks(sorted(missing), len(stored), progress)
        elif missing:
            values = self._backend_scores(missing, progress)
            self._cache.update(zip(missing, values, strict=True))
        return len(missing)

    def _backend_scores(self, requests: Sequence[Request], progress: Callable[[int], None] | None) -> list[float]:
        try:
            return self.backend.loglikelihoods(requests, progress=progress)
        except Exception as error:
            raise ScoringFailed(f"{self.label} failed while scoring: {first_line(error)}") from error

    def _score_in_chunks(self, missing: list[Request], done: int, progress: Callable[[int], None] | None) -> None:
        assert self.store is not None
        if progress is not None and done:
            progress(done)
        for start in range(0, len(missing), STORE_EVERY):
            chunk = missing[start : start + STORE_EVERY]
            shifted = None if progress is None else functools.partial(_shifted, progress, done + start)
            values = self._backend_scores(chunk, shifted)
            scores = list(zip(chunk, values, strict=True))
            self._cache.update(scores)
            self.store.put_many(scores)

    @contextmanager
    def recording(self) -> Iterator[list[Request]]:
        self._recorded = []
        try:
            yield self._recorded
        finally:
            self._recorded = None

    def take_scored(self) -> list[Scored]:
        """What was scored since the last call: the counting pass attributes it to the example just run."""
        scored, self._scored = self._scored, []
        return scored

    def close(self) -> None:
        self._cache.clear()
        if self.store is not None:
            self.store.close()
        self.backend.close()
