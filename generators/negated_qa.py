"""Negated-QA cases (Inverse Scaling Prize, round 1, NeQA by Zhou and Zhang; lm-evaluation-harness
``inverse_scaling_neqa``): a two-option multiple-choice question with "not" in it.

``Which of these is not a mammal?\nA. trout\nB. horse\nAnswer:`` must be answered ``" A"``. Without the "not" the
answer flips to ``" B"``; a model that matches the question to the option most associated with its topic
("mammal" and "horse") answers the un-negated question. Better knowledge of the topic makes that pull stronger,
which is why the prize found the task getting worse with scale before it got better. ``negated=(True, False)``
adds the un-negated twins as a control.

The prize's format, kept: the options listed as ``A.``/``B.`` lines, the prompt ending ``Answer:``, classes
``" A"`` and ``" B"``, the right letter balanced 50/50 (here by the drawn, recorded ``answer_position``), and, in
the ``neqa`` frame, the prize's header "The following are multiple choice questions (with answers) about common
sense." before ``Question:``. Deliberate differences: the prize negated OpenBookQA sentences ("..., it isn't in");
these questions ask which option is (not) in a category, so the right answer can be checked by a lookup and the
negation flips it exactly; every option is undisputed (no "potato is a vegetable", "black is a colour", "spoons
are an instrument" quibbles); and two more wordings of the question (``question``, ``following``) are a frame
axis, drawn evenly with the prize's, so a rate is not an artefact of one wording.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from generators.answers import AnswerPosition, answer_first, in_order, listed_case, position_domain
from generators.case import AxisValue, Case, domains_of
from generators.options import require_subset

_CALLER = "negated_qa_cases"


@dataclass(frozen=True)
class Category:
    """A category with clear members and clear non-members (nothing a reasonable reader would dispute)."""

    name: str  # with its article, as the question uses it: "a mammal"
    members: tuple[str, ...]
    outsiders: tuple[str, ...]


def _category(name: str, members: str, outsiders: str) -> Category:
    return Category(name=name, members=tuple(members.split(", ")), outsiders=tuple(outsiders.split(", ")))


CATEGORIES: tuple[Category, ...] = (
    _category(
        "a mammal",
        "dog, horse, whale, rabbit, lion, cow, mouse, goat",
        "trout, eagle, frog, shark, lizard, ant, snake, parrot",
    ),
    _category(
        "a bird",
        "sparrow, eagle, penguin, owl, parrot, pigeon, duck, robin",
        "bat, butterfly, salmon, bee, frog, mouse, squirrel, dragonfly",
    ),
    _category(
        "a metal",
        "iron, copper, gold, silver, zinc, aluminium, tin, lead",
        "wood, glass, rubber, paper, wool, cotton, clay, plastic",
    ),
    _category(
        "a planet",
        "Mars, Venus, Jupiter, Saturn, Mercury, Neptune, Uranus, Earth",
        "the Moon, the Sun, Sirius, Polaris, Halley's Comet, Titan, the Andromeda Galaxy, Ganymede",
    ),
    _category(
        "a country",
        "France, Japan, Brazil, Kenya, Canada, Egypt, India, Peru",
        "Paris, Tokyo, the Amazon, the Sahara, Mount Everest, the Nile, Berlin, the Pacific",
    ),
    _category(
        "a musical instrument",
        "violin, piano, trumpet, flute, drum, guitar, cello, harp",
        "hammer, sofa, pillow, ladder, umbrella, stapler, toaster, shovel",
    ),
    _category(
        "a vegetable",
        "carrot, cauliflower, onion, cabbage, lettuce, spinach, broccoli, leek",
        "banana, cherry, grape, mango, chicken, bread, cheese, rice",
    ),
    _category("a prime number", "2, 3, 5, 7, 11, 13, 17, 19", "4, 6, 8, 9, 10, 12, 15, 21"),
    _category(
        "a colour",
        "red, blue, green, yellow, purple, brown, orange, pink",
        "square, Tuesday, circle, kilogram, August, triangle, metre, Monday",
    ),
    _category(
        "an insect",
        "ant, bee, beetle, butterfly, fly, wasp, moth, grasshopper",
        "spider, snail, earthworm, crab, scorpion, frog, sparrow, mouse",
    ),
)
FRAMES: dict[str, str] = {
    "question": "Question: Which of these is {negation}{category}?\nA. {a}\nB. {b}\nAnswer:",
    "following": "Which of the following is {negation}{category}?\nA. {a}\nB. {b}\nAnswer:",
    "neqa": "The following are multiple choice questions (with answers) about common sense.\n\n"
    "Question: Which of these is {negation}{category}?\nA. {a}\nB. {b}\nAnswer:",
}


def build_negated_qa_case(
    category: Category,
    member: str,
    outsider: str,
    negated: bool,
    frame: str,
    first: bool,
    *,
    domains: Mapping[str, Sequence[AxisValue]] | None = None,
    positions: Sequence[int] = (0, 1),
) -> Case:
    """Options ``member`` and ``outsider``; the right one is the outsider when the question says "not"."""
    right, wrong = (outsider, member) if negated else (member, outsider)
    a, b = in_order(right, wrong, first)
    prompt = FRAMES[frame].format(negation="not " if negated else "", category=category.name, a=a, b=b)
    axes = {"category": category.name, "negated": negated, "frame": frame}
    return listed_case(prompt, (" A", " B"), 0 if first else 1, axes, domains=domains or {}, positions=positions)


def negated_qa_cases(
    *,
    negated: Collection[bool] = (True,),
    frames: Collection[str] = tuple(FRAMES),
    answer_position: AnswerPosition = "balanced",
) -> st.SearchStrategy[Case]:
    """Negated questions by default; ``negated=(True, False)`` draws both, so the flip itself can be measured."""
    if isinstance(negated, bool) or not negated or not set(negated) <= {True, False}:
        raise InvalidArgument(f"{_CALLER}(negated=...) takes a non-empty collection of True/False, got {negated!r}")
    negations = tuple(dict.fromkeys(negated))
    frame_names = tuple(dict.fromkeys(require_subset(_CALLER, "frames", frames, tuple(FRAMES))))
    chosen_negated, chosen_frames = st.sampled_from(negations), st.sampled_from(frame_names)
    first = answer_first(_CALLER, answer_position)
    domains = domains_of(category=[category.name for category in CATEGORIES], negated=negations, frame=frame_names)

    @st.composite
    def cases(draw: Callable) -> Case:
        category = draw(st.sampled_from(CATEGORIES))
        member, outsider = draw(st.sampled_from(category.members)), draw(st.sampled_from(category.outsiders))
        negation, frame = draw(chosen_negated), draw(chosen_frames)
        return build_negated_qa_case(
            category,
            member,
            outsider,
            negation,
            frame,
            draw(first),
            domains=domains,
            positions=position_domain(answer_position),
        )

    return cases()
