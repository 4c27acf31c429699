"""Scripted models: backends whose answers are known by construction, for testing the plugin without weights.

Most read the prompt's last line (``A, B, A, B, A,``) the way a model would see it: the symbol that continues
the alternation is the second-to-last one shown, the pattern-violating one is the last. ``literal`` and
``indifferent`` answer any prompt, for the other behaviours and for prize CSV files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from models.under_test import TOO_LONG

LIVE: list[str] = []
LOADED: list[str] = []
MAX_LIVE = [0]


def pattern_symbols(prompt: str) -> tuple[str, str]:
    """(continues the pattern, violates it) for a repetition-suppression prompt."""
    lines = prompt.splitlines() or [""]
    shown = [symbol.strip() for symbol in lines[-1].split(",") if symbol.strip()]
    return (shown[-2], shown[-1]) if len(shown) >= 2 else ("", "")


class ScriptedBackend:
    """Gives log-prob 0 to the continuation it prefers and -5 to any other.

    ``prefer`` names the one continuation a context calls for; ``accepts`` instead judges each (context,
    continuation) pair, for models that may accept several continuations or none.
    """

    def __init__(
        self,
        label: str,
        prefer: Callable[[str], str] | None = None,
        *,
        accepts: Callable[[str, str], bool] | None = None,
    ) -> None:
        if (prefer is None) == (accepts is None):
            raise TypeError("a scripted backend takes prefer or accepts, not both or neither")
        self.label = label
        self._accepts = accepts or (lambda context, continuation: continuation.strip() == prefer(context))
        self.requests_scored = 0
        LIVE.append(label)
        LOADED.append(label)
        MAX_LIVE[0] = max(MAX_LIVE[0], len(LIVE))

    def loglikelihoods(self, requests: Sequence[tuple[str, str]], *, progress: Any = None) -> list[float]:
        self.requests_scored += len(requests)
        if progress is not None:
            progress(len(requests))
        return [0.0 if self._accepts(context, continuation) else -5.0 for context, continuation in requests]

    def close(self) -> None:
        LIVE.remove(self.label)


def completes_pattern(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    """A model that always continues the alternation: repetition suppression pass rate 0."""
    return ScriptedBackend(spec.label, lambda prompt: pattern_symbols(prompt)[0])


def obeys(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    """A model that always breaks the pattern as told: pass rate 1."""
    return ScriptedBackend(spec.label, lambda prompt: pattern_symbols(prompt)[1])


def broken(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    raise RuntimeError("scripted load failure")


def obeys_at_rate(label: str, prompt: str) -> bool:
    """Whether the ``name@rate`` model obeys on this prompt: a pseudo-random share ``rate`` of prompts, fixed per
    (label, prompt), so a test can tell which cases such a model fails."""
    import hashlib

    rate = float(label.rsplit("@", 1)[1])
    digest = hashlib.sha256(f"{label}|{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def with_rate(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    """Obeys on a pseudo-random share of prompts given by the label (``name@0.30``), fixed per (label, prompt)."""
    return ScriptedBackend(
        spec.label, lambda prompt: pattern_symbols(prompt)[1 if obeys_at_rate(spec.label, prompt) else 0]
    )


def occurs_in(context: str, continuation: str) -> bool:
    """The continuation's text appears in the context as a whole word (or number, or phrase)."""
    text = continuation.strip()
    return bool(text) and re.search(rf"(?<!\w){re.escape(text)}(?!\w)", context) is not None


def literal(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    """A model that copies from its prompt: a continuation occurring in it gets log-prob 0, any other -5."""
    return ScriptedBackend(spec.label, accepts=occurs_in)


def indifferent(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    """A model that gives every continuation log-prob 0: every class ties, so no classification case passes."""
    return ScriptedBackend(spec.label, accepts=lambda context, continuation: True)


SHORT_CONTEXT_CHARACTERS = 170


class ShortContext(ScriptedBackend):
    """Obeys, but like a model with a small context: a prompt longer than 170 characters is not scored."""

    context_length = SHORT_CONTEXT_CHARACTERS

    def loglikelihoods(self, requests: Sequence[tuple[str, str]], *, progress: Any = None) -> list[float]:
        scores = super().loglikelihoods(requests, progress=progress)
        return [
            TOO_LONG if len(context) > self.context_length else score
            for (context, _), score in zip(requests, scores, strict=True)
        ]


def short_context(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    return ShortContext(spec.label, lambda prompt: pattern_symbols(prompt)[1])


class Interrupting(ScriptedBackend):
    """Ctrl-C pressed while this model scores: the signal a terminal sends, to this process (under pytest-xdist, the
    worker scoring it), which Python raises as KeyboardInterrupt."""

    def loglikelihoods(self, requests: Sequence[tuple[str, str]], *, progress: Any = None) -> list[float]:
        import os
        import signal
        import time

        signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's background job starts with it ignored
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(60)  # the signal's KeyboardInterrupt ends this at once
        raise AssertionError("SIGINT did not interrupt this process")


def interrupted(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    return Interrupting(spec.label, lambda prompt: pattern_symbols(prompt)[1])


class Crashing(ScriptedBackend):
    """Stands for a model whose forward pass fails (a CUDA error, out of memory at batch size one)."""

    def loglikelihoods(self, requests: Sequence[tuple[str, str]], *, progress: Any = None) -> list[float]:
        raise RuntimeError("CUDA error: device-side assert triggered")


def crashes(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    return Crashing(spec.label, lambda prompt: pattern_symbols(prompt)[1])


LOAD_LOG = "SCALECHECK_TEST_LOAD_LOG"
"""A file each load of ``logged`` appends ``pid label`` to: loads made in other processes (xdist workers)."""


def logged(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    """Obeys, and notes the load (process and label) in the file named by ``$SCALECHECK_TEST_LOAD_LOG``."""
    import os

    with open(os.environ[LOAD_LOG], "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {spec.label}\n")
    return ScriptedBackend(spec.label, lambda prompt: pattern_symbols(prompt)[1])


class Dying(ScriptedBackend):
    """Kills its process when asked to score, as an out-of-memory kill or a crash in a kernel would."""

    def loglikelihoods(self, requests: Any, *, progress: Any = None) -> list[float]:
        import os

        os._exit(139)


def dies(*, spec: Any, device: str, dtype: Any) -> ScriptedBackend:
    """Loads (noted as ``logged`` notes it), then kills its process at the first scoring call."""
    logged(spec=spec, device=device, dtype=dtype)
    return Dying(spec.label, lambda prompt: pattern_symbols(prompt)[1])
