"""Numpy renderer of the toy world: noisy grey background, a landmark bar, shaped actors.

Rendering is vectorised over time: an actor is a set of per-frame tracks (centre, size, colour,
opacity, trail offset), and one call draws all T frames of a video. Pure numpy and integer
rounding only, so the same tracks give the same bytes on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _mask_circle(dx, dy, r):
    return dx * dx + dy * dy <= r * r


def _mask_square(dx, dy, r):
    return np.maximum(np.abs(dx), np.abs(dy)) <= 0.82 * r


def _mask_diamond(dx, dy, r):
    return np.abs(dx) + np.abs(dy) <= r


def _mask_ring(dx, dy, r):
    d2 = dx * dx + dy * dy
    return (d2 <= r * r) & (d2 >= (0.5 * r) ** 2)


def _mask_cross(dx, dy, r):
    ax, ay, arm = np.abs(dx), np.abs(dy), 0.36 * r
    return ((ax <= arm) & (ay <= r)) | ((ay <= arm) & (ax <= r))


def _mask_triangle(dx, dy, r):
    # apex up: the width grows linearly from the top (dy = -r) to the base (dy = +r)
    return (dy >= -r) & (dy <= 0.8 * r) & (np.abs(dx) <= (dy + r) * 0.58)


SHAPE_MASKS = {
    "circle": _mask_circle,
    "square": _mask_square,
    "diamond": _mask_diamond,
    "ring": _mask_ring,
    "cross": _mask_cross,
    "triangle": _mask_triangle,
}


@dataclass
class ActorTrack:
    """Per-frame state of one actor; every array has length T."""

    shape: str
    x: np.ndarray  # centre column (px, float)
    y: np.ndarray  # centre row
    size: np.ndarray  # diameter (px)
    rgb: np.ndarray  # [T, 3] float colour
    alpha: np.ndarray  # opacity in [0, 1] (appears / vanishes)
    trail_dx: np.ndarray  # offset of the motion trail from the centre (0 when not moving)
    trail_dy: np.ndarray


def background(rng: np.random.Generator, size: int, level_range, noise: float) -> np.ndarray:
    """A static grey texture [H, W, 3] float; drawn once per video."""
    level = rng.uniform(*level_range)
    tex = rng.normal(0.0, noise, (size, size, 1))
    return np.repeat(level + tex, 3, axis=2)


def draw_landmark(canvas: np.ndarray, position: str, rgb, thickness: int) -> None:
    """The "box": a bar along one edge of every frame (canvas [..., H, W, 3], in place)."""
    sl = {
        "left": (slice(None), slice(0, thickness)),
        "right": (slice(None), slice(-thickness, None)),
        "top": (slice(0, thickness), slice(None)),
        "bottom": (slice(-thickness, None), slice(None)),
    }[position]
    canvas[(Ellipsis,) + sl + (slice(None),)] = np.asarray(rgb, dtype=np.float64)


def _composite(frames: np.ndarray, mask: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> None:
    a = mask[..., None] * alpha[:, None, None, None]  # [T, H, W, 1]
    frames *= 1.0 - a
    frames += a * rgb[:, None, None, :]


def draw_actor(frames: np.ndarray, track: ActorTrack, trail_opacity: float) -> None:
    """Draw one actor into frames [T, H, W, 3] (float, in place): its trail first, then itself."""
    size = frames.shape[1]
    grid = np.arange(size, dtype=np.float64) + 0.5
    yy, xx = grid[None, :, None], grid[None, None, :]
    fn = SHAPE_MASKS[track.shape]
    r = (track.size / 2.0)[:, None, None]
    moving = (track.trail_dx != 0) | (track.trail_dy != 0)
    if moving.any():
        tdx = xx - (track.x + track.trail_dx)[:, None, None]
        tdy = yy - (track.y + track.trail_dy)[:, None, None]
        trail = fn(tdx, tdy, r).astype(np.float64) * moving[:, None, None]
        _composite(frames, trail, track.rgb, track.alpha * trail_opacity)
    body = fn(xx - track.x[:, None, None], yy - track.y[:, None, None], r).astype(np.float64)
    _composite(frames, body, track.rgb, track.alpha)


def render(bg: np.ndarray, landmark: tuple[str, tuple], tracks: list[ActorTrack], *,
           thickness: int, trail_opacity: float) -> np.ndarray:
    """All frames of one scene, uint8 [T, H, W, 3]."""
    T = len(tracks[0].x) if tracks else 1
    frames = np.broadcast_to(bg, (T,) + bg.shape).copy()
    draw_landmark(frames, landmark[0], landmark[1], thickness)
    for track in tracks:
        draw_actor(frames, track, trail_opacity)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)
