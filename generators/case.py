"""A case: one question put to a model, as plain data with a stable identity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

AxisValue = str | int | bool


@dataclass(frozen=True)
class Case:
    """A prompt, its candidate continuations and which one is right.

    ``axes`` records the choices that produced the case (template, alphabet, repetitions, ...) so results can be
    broken down by them; ``domains`` declares, for the axes whose values the generator knows, every value the
    axis can take (the population is uniform over each), so the validity audit can test what was drawn against
    what was declared. ``question`` is the question itself when the prompt also holds solved demonstrations,
    and ``demonstrations`` are those demonstrations' own questions: the audit checks a case never shows its own
    question already answered.

    ``id`` depends only on what the model sees and on the right answer: the prompt, the *set* of classes (their
    order is invisible to a model that scores each after the prompt) and the right class. The same case is
    matched across model sizes, runs and checkpoints however it was generated, and is counted once.
    """

    prompt: str
    classes: tuple[str, ...]
    answer_index: int
    axes: Mapping[str, AxisValue] = field(default_factory=dict, compare=False)
    domains: Mapping[str, tuple[AxisValue, ...]] = field(default_factory=dict, compare=False, repr=False)
    question: str | None = field(default=None, compare=False, repr=False)
    demonstrations: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            raise ValueError(f"a case needs at least two classes, got {self.classes!r}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"a case's classes must be distinct, got {self.classes!r}")
        if not 0 <= self.answer_index < len(self.classes):
            raise ValueError(f"answer_index {self.answer_index} is outside classes {self.classes!r}")
        undeclared = sorted(set(self.domains) - set(self.axes))
        if undeclared:
            raise ValueError(f"domains {undeclared} name no axis of this case (axes: {sorted(self.axes)})")
        for axis, values in self.domains.items():
            if self.axes[axis] not in values:
                raise ValueError(f"axis {axis}={self.axes[axis]!r} is outside its declared domain {tuple(values)!r}")
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "axes", MappingProxyType(dict(self.axes)))
        object.__setattr__(self, "domains", MappingProxyType({k: tuple(v) for k, v in self.domains.items()}))
        object.__setattr__(self, "demonstrations", tuple(self.demonstrations))

    @property
    def id(self) -> str:
        payload = json.dumps([self.prompt, sorted(self.classes), self.answer], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    @property
    def answer(self) -> str:
        return self.classes[self.answer_index]

    @property
    def asked(self) -> str:
        """The question without its demonstrations (the whole prompt when there are none)."""
        return self.prompt if self.question is None else self.question

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (what a pinned baseline stores); ``Case.from_dict`` reads it back."""
        data: dict[str, Any] = {
            "prompt": self.prompt,
            "classes": list(self.classes),
            "answer_index": self.answer_index,
            "axes": dict(self.axes),
        }
        if self.domains:
            data["domains"] = {axis: list(values) for axis, values in self.domains.items()}
        if self.question is not None:
            data["question"] = self.question
        if self.demonstrations:
            data["demonstrations"] = list(self.demonstrations)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Case:
        return cls(
            prompt=data["prompt"],
            classes=tuple(data["classes"]),
            answer_index=data["answer_index"],
            axes=data.get("axes", {}),
            domains={axis: tuple(values) for axis, values in data.get("domains", {}).items()},
            question=data.get("question"),
            demonstrations=tuple(data.get("demonstrations", ())),
        )

    def __repr__(self) -> str:
        axes = ", ".join(f"{key}={value!r}" for key, value in self.axes.items())
        return (
            f"Case(id={self.id!r}, {axes}, answer={self.answer!r}, classes={self.classes!r},\n"
            f"     prompt={self.prompt!r})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints falsifying examples with this, rather than field by field."""
        printer.text(repr(self))


def domains_of(**values: Sequence[AxisValue]) -> dict[str, tuple[AxisValue, ...]]:
    """Declared axis domains, as ``Case(domains=...)`` takes them: ``domains_of(shots=(0, 1, 2), frame=FRAMES)``."""
    return {axis: tuple(dict.fromkeys(choices)) for axis, choices in values.items()}
