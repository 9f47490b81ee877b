"""Ground-truth state features: the premise ladder's rung P2a and its diagnostic twin.

Instead of a micro-CLIP's frame features, each frame is described by what the world knows it shows
(`world.tracks`): for every colour word and every shape word, one channel group holding that word's
presence and the presence-weighted x, y and size of the actor(s) it names, then (`gt-states` only)
the per-frame change of those four, then the landmark's colour and edge as one-hot channels.

- `gt-states-static` (rung P2a): the states alone. This is all a frame feature could ever hold, a
  perfect snapshot of one frame, so it asks whether the head can read a verb, which in this world
  is a change between a moment's start and its end, from snapshots.
- `gt-states`: the states plus their per-frame change (the velocity). No single frame holds it, so
  no image tower can supply it; the row shows what the head reads when the change is handed to it
  (measured: docs/PREMISE.md, "The head cannot compare a moment's start and end").

A turn moves presence from the old colour's channels to the new one's as the rendered RGB moves.
Word channels, not per-actor slots, tie a name to its motion (slots could not, measured:
docs/ENGINEERING_NOTES.md section 4).

A diagnostic row, not a paper row: if the same MMN head and text side cannot read the verbs from
these, the head, the recipe or the text side is the limit, not the features. There are no patch
features (A11 falls back to frame differences). Features are cached like the other mini features,
under the world's cache key, so a change of world.toml moves the run key. See docs/PREMISE.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import world as world_mod
from .build import MiniBuild, _atomic_npz

# backbone name (vdi_core/backbones.py) -> whether the per-frame change channels are included
VARIANTS = {"gt-states": True, "gt-states-static": False}
# Bump when a change here alters the features (it is part of the data fingerprint).
STATES_VERSION = "1"
STATE_FIELDS = ("presence", "x", "y", "size")
# A move shifts x by ~0.5 px a frame, 1/60 of the frame: x16 brings the velocities to the scale of
# the states, so the per-frame L2 normalisation of MMN's pooling does not drown them.
VELOCITY_SCALE = 16.0


def channel_names(world: dict, change: bool = True) -> list[str]:
    """The name of every feature channel, in order."""
    words = list(world["vocab"]["colours"]) + list(world["vocab"]["shapes"])
    names = [f"{w}.{f}" for w in words for f in STATE_FIELDS]
    if change:
        names += [f"{w}.d{f}" for w in words for f in STATE_FIELDS]
    names += [f"box.{c}" for c in world["vocab"]["colours"]]
    names += [f"box.{p}" for p in world["vocab"]["landmark_positions"]]
    return names


def colour_weights(world: dict, script: world_mod.Script, actor: int) -> np.ndarray:
    """[T, colours] how much of each colour word the actor shows per frame: one-hot, blended from
    the old to the new colour over a turn exactly as `world.tracks` blends the RGB."""
    T, colours = world["video"]["frames"], list(world["vocab"]["colours"])
    t = np.arange(T, dtype=np.float64)
    w = np.zeros((T, len(colours)))
    w[:, colours.index(script.colours[actor])] = 1.0
    for ev in (e for e in script.events if e.actor == actor and e.action == "turn"):
        p = np.clip((t - ev.start + 0.5) / (ev.end - ev.start), 0.0, 1.0)[:, None]
        target = np.zeros(len(colours))
        target[colours.index(ev.new_colour)] = 1.0
        w = w + p * (target - w[ev.start])
    return w


def script_states(world: dict, script: world_mod.Script, change: bool = True) -> np.ndarray:
    """[T, len(channel_names(world, change))] float32 state features of one video."""
    T, S = world["video"]["frames"], float(world["render"]["size"])
    colours, shapes = list(world["vocab"]["colours"]), list(world["vocab"]["shapes"])
    words = len(colours) + len(shapes)
    state = np.zeros((T, words, len(STATE_FIELDS)))
    for i, track in enumerate(world_mod.tracks(world, script)):
        word_w = np.zeros((T, words))
        word_w[:, :len(colours)] = colour_weights(world, script, i)
        word_w[:, len(colours) + shapes.index(track.shape)] = 1.0
        presence = word_w * track.alpha[:, None]  # [T, words]
        per_field = np.stack([np.ones(T), track.x / S, track.y / S, track.size / S], axis=1)  # [T, 4]
        state += presence[:, :, None] * per_field[:, None, :]
    parts = [state.reshape(T, -1)]
    if change:
        parts.append((np.diff(state, axis=0, prepend=state[:1]) * VELOCITY_SCALE).reshape(T, -1))
    position, colour = script.landmark
    box = np.zeros(len(colours) + len(world["vocab"]["landmark_positions"]))
    box[colours.index(colour)] = 1.0
    box[len(colours) + list(world["vocab"]["landmark_positions"]).index(position)] = 1.0
    out = np.concatenate(parts + [np.tile(box, (T, 1))], axis=1)
    return out.astype(np.float32)


def states_path(build: MiniBuild, split: str, backbone: str) -> Path:
    return build.root / "features" / f"{backbone}-v{STATES_VERSION}" / f"{split}.npz"


def fingerprint(build: MiniBuild, backbone: str) -> str:
    """The identity of the features: the world's cache key (every world.toml value) and this code."""
    return f"mini-{build.key}-{backbone}-v{STATES_VERSION}"


def split_states(build: MiniBuild, split: str, backbone: str) -> np.ndarray:
    """[N, T, D] float32 state features of a split's videos, computed once and cached."""
    path = states_path(build, split, backbone)
    if not path.exists():
        t0 = time.time()
        change = VARIANTS[backbone]
        arrays = np.stack([script_states(build.world, s, change) for s in build.splits()[split]])
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_npz(path, states=arrays)
        build._record(f"features {backbone} {split}", time.time() - t0)
    with np.load(path) as z:
        return z["states"]
