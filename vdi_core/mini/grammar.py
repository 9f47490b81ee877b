"""The toy world's language: query sentences for events and state captions for single frames.

Queries always name the actor by colour and shape (two actors never share both, so the phrase is
unambiguous; in half the videos they share one, so the phrase needs both words: A22) and describe
the action with one of several paraphrases, so no single template can be memorised. Captions
describe what one frame shows (states) and name a verb only rarely.
"""

from __future__ import annotations

import numpy as np

# Action -> paraphrases of its verb phrase ("{c}" = the new colour of a colour change).
VERB_PHRASES: dict[str, tuple[str, ...]] = {
    "move_left": ("moves left", "moves to the left", "slides left", "goes to the left", "drifts left"),
    "move_right": ("moves right", "moves to the right", "slides right", "goes to the right", "drifts right"),
    "move_up": ("moves up", "goes up", "rises", "slides upward", "floats up"),
    "move_down": ("moves down", "goes down", "falls", "slides downward", "drops down"),
    "grow": ("grows", "gets bigger", "expands", "becomes larger", "swells"),
    "shrink": ("shrinks", "gets smaller", "contracts", "becomes smaller", "dwindles"),
    "turn": ("turns {c}", "changes colour to {c}", "becomes {c}", "changes to {c}"),
    "appear": ("appears", "shows up", "comes into view", "emerges"),
    "vanish": ("vanishes", "disappears", "fades away", "goes away"),
}
ACTIONS = tuple(VERB_PHRASES)
MOVES = {"move_left": (-1, 0), "move_right": (1, 0), "move_up": (0, -1), "move_down": (0, 1)}
OPPOSITE = {"move_left": "move_right", "move_right": "move_left", "move_up": "move_down",
            "move_down": "move_up", "grow": "shrink", "shrink": "grow", "appear": "vanish",
            "vanish": "appear"}

SUBJECTS = ("the {c} {s}", "a {c} {s}", "the {c} {s}", "one {c} {s}")
LANDMARK_PHRASES = ("near the {c} box", "next to the {c} box", "by the {c} box")
POSITION_WORDS = {  # 3x3 grid cell (row, col) -> phrase
    (0, 0): "at the top left", (0, 1): "at the top", (0, 2): "at the top right",
    (1, 0): "on the left", (1, 1): "in the middle", (1, 2): "on the right",
    (2, 0): "at the bottom left", (2, 1): "at the bottom", (2, 2): "at the bottom right",
}


def pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def verb_phrase(rng: np.random.Generator, action: str, new_colour: str | None = None) -> str:
    return pick(rng, VERB_PHRASES[action]).format(c=new_colour)


def query_sentence(rng: np.random.Generator, colour: str, shape: str, action: str, *,
                   new_colour: str | None = None, landmark_colour: str | None = None) -> str:
    """One paraphrase of "<actor> <verb phrase> [near the <colour> box]"."""
    words = [pick(rng, SUBJECTS).format(c=colour, s=shape), verb_phrase(rng, action, new_colour)]
    if landmark_colour is not None:
        words.append(pick(rng, LANDMARK_PHRASES).format(c=landmark_colour))
    return " ".join(words)


def grid_cell(x: float, y: float, size: int) -> tuple[int, int]:
    return min(int(y * 3 // size), 2), min(int(x * 3 // size), 2)


def size_word(diameter: float) -> str | None:
    return "small" if diameter <= 9 else "big" if diameter >= 11 else None


def actor_phrase(rng, colour: str, shape: str, *, size: str | None, position: str | None,
                 verb: str | None) -> str:
    parts = ["a" if size is None else f"a {size}", colour, shape]
    if verb is not None:
        parts.append(verb)
    if position is not None:
        parts.append(position)
    return " ".join(parts)


def caption(actor_phrases: list[str], landmark: tuple[str, str] | None) -> str:
    """A state caption: "a small red circle at the top and a blue ring near the green box on the left"."""
    text = " and ".join(actor_phrases)
    if landmark is not None:
        colour, position = landmark
        text += f" near the {colour} box on the {position}"
    return text


def words_of(sentence: str) -> set[str]:
    return set(sentence.lower().split())


def all_words(colours, shapes, landmark_positions) -> list[str]:
    """Every word the world's grammar can emit (the vocabulary of the separated text encoder)."""
    words: set[str] = set(colours) | set(shapes) | set(landmark_positions)
    texts = [p for ps in VERB_PHRASES.values() for p in ps] + list(SUBJECTS) + list(LANDMARK_PHRASES)
    texts += list(POSITION_WORDS.values()) + ["a small big and near the box on the"]
    for t in texts:
        words |= {w for w in t.replace("{c}", "").replace("{s}", "").split() if w}
    return sorted(words)
