"""Single static frames of the toy world: the pre-training set (frame, state caption) and the
SVO-style triplets of Table 1.

Captions describe states (actors, colours, sizes, positions, the landmark). A share of frames
catch an actor mid-move, visible only as a faint trail; their caption names the move rarely,
and other captions carry random, image-unrelated verbs (as in web captions), so the micro-CLIP
sees verbs but can hardly ground them: the paper's premise, by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import draw, grammar
from .world import stream


@dataclass
class FrameActor:
    colour: str
    shape: str
    size: float
    x: float
    y: float
    move: str | None = None  # a move caught mid-way (drawn as a trail)


@dataclass
class Scene:
    actors: list[FrameActor]
    landmark: tuple[str, str]  # (position, colour)
    bg_seed: int


def sample_scene(rng: np.random.Generator, world: dict, n_actors: int, p_trail: float) -> Scene:
    r, S = world["render"], world["render"]["size"]
    colours, shapes = list(world["vocab"]["colours"]), world["vocab"]["shapes"]
    cs = rng.choice(colours, n_actors, replace=False)
    ss = rng.choice(shapes, n_actors, replace=False)
    actors = []
    for c, s in zip(cs, ss):
        size = float(rng.integers(r["actor_size"][0], r["actor_size"][1] + 1))
        m = size / 2 + 1
        move = str(rng.choice(list(grammar.MOVES))) if rng.random() < p_trail else None
        x, y = float(rng.uniform(m, S - m)), float(rng.uniform(m, S - m))
        actors.append(FrameActor(str(c), str(s), size, x, y, move))
    landmark = (str(rng.choice(world["vocab"]["landmark_positions"])), str(rng.choice(colours)))
    return Scene(actors, landmark, int(rng.integers(2**31)))


def render_scene(world: dict, scene: Scene) -> np.ndarray:
    """uint8 [H, W, 3]."""
    r, cols = world["render"], world["vocab"]["colours"]
    tracks = []
    for a in scene.actors:
        dx, dy = grammar.MOVES[a.move] if a.move else (0, 0)
        one = lambda v: np.array([float(v)])
        tracks.append(draw.ActorTrack(a.shape, one(a.x), one(a.y), one(a.size),
                                        np.asarray([cols[a.colour]], dtype=np.float64), one(1.0),
                                        one(-3.0 * dx), one(-3.0 * dy)))
    bg = draw.background(np.random.default_rng(scene.bg_seed), r["size"], r["background"], r["noise"])
    frame = draw.render(bg, (scene.landmark[0], cols[scene.landmark[1]]), tracks,
                          thickness=r["landmark_thickness"], trail_opacity=r["trail"])
    return frame[0]


def scene_caption(rng: np.random.Generator, world: dict, scene: Scene) -> str:
    p, S = world["pretrain_frames"], world["render"]["size"]
    phrases = []
    for a in scene.actors:
        size = grammar.size_word(a.size) if rng.random() < p["size_words"] else None
        pos = grammar.POSITION_WORDS[grammar.grid_cell(a.x, a.y, S)] if rng.random() < p["position_words"] else None
        verb = None
        if a.move is not None and rng.random() < p["verb_true"]:
            verb = grammar.verb_phrase(rng, a.move)
        elif rng.random() < p["verb_noise"]:
            verb = grammar.verb_phrase(rng, str(rng.choice(grammar.ACTIONS)),
                                       str(rng.choice(list(world["vocab"]["colours"]))))
        phrases.append(grammar.actor_phrase(rng, a.colour, a.shape, size=size, position=pos, verb=verb))
    # caption variants without the landmark, or with one actor only, stop a contrastive batch
    # from being matched on the landmark alone (docs/ENGINEERING_NOTES.md section 3, pitfall 4)
    if len(phrases) > 1 and rng.random() < 0.2:
        phrases = phrases[:1]
    landmark = (scene.landmark[1], scene.landmark[0]) if rng.random() < p["landmark_words"] else None
    return grammar.caption(phrases, landmark)


def _pretrain_scenes(world: dict, seed: int, which: str):
    """(rng, scenes): the scenes come first in the stream, the captions after them."""
    p = world["pretrain_frames"]
    n = p["count"] if which == "pretrain" else p["held_out"]
    rng = stream(seed, which)
    return rng, [sample_scene(rng, world, int(rng.integers(p["actors"][0], p["actors"][1] + 1)), p["trail"])
                 for _ in range(n)]


def pretrain_scenes(world: dict, seed: int, which: str = "pretrain") -> list[Scene]:
    """The scenes of `pretrain_set`, unrendered: a caller that needs a few frames renders just those."""
    return _pretrain_scenes(world, seed, which)[1]


def pretrain_set(world: dict, seed: int, which: str = "pretrain"):
    """(frames uint8 [N, H, W, 3], captions, scenes) for `which` in {"pretrain", "held_out"}."""
    rng, scenes = _pretrain_scenes(world, seed, which)
    frames = np.stack([render_scene(world, s) for s in scenes])
    captions = [scene_caption(rng, world, s) for s in scenes]
    return frames, captions, scenes


def triplets(world: dict, seed: int, count: int):
    """SVO-style triplets: (sentence, positive, negative, type) where the negative differs only
    in the subject (the actor's shape), the verb (the opposite move), or the object (the colour
    of the box the actor moves near)."""
    rng = stream(seed, "triplets")
    colours = list(world["vocab"]["colours"])
    out = []
    for i in range(count):
        neg_type = ("subject", "verb", "object")[i % 3]
        scene = sample_scene(rng, world, 1, 1.0)
        a = scene.actors[0]
        sentence = f"a {a.colour} {a.shape} {grammar.verb_phrase(rng, a.move)} near the {scene.landmark[1]} box"
        neg = Scene([FrameActor(**vars(a))], scene.landmark, scene.bg_seed)
        if neg_type == "subject":
            neg.actors[0].shape = str(rng.choice([s for s in world["vocab"]["shapes"] if s != a.shape]))
        elif neg_type == "verb":
            neg.actors[0].move = grammar.OPPOSITE[a.move]
        else:
            neg.landmark = (scene.landmark[0], str(rng.choice([c for c in colours if c != scene.landmark[1]])))
        out.append((sentence, render_scene(world, scene), render_scene(world, neg), neg_type))
    return out
