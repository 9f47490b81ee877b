"""Tiny test videos encoded with PyAV: frame i is a flat grey of level 5*i, so the sampled frame
can be read back from the pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

LEVEL = 5  # grey level step per frame; mpeg4 at qscale 1 keeps levels within +-1


def write_video(path: Path, n_frames: int, rate: int = 25, size=(64, 48)) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.qmin, s.codec_context.qmax = 1, 2  # near-lossless flat frames
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), LEVEL * i % 256, np.uint8), format="rgb24")
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def frame_index(frames: np.ndarray) -> np.ndarray:
    """Which source frame each decoded frame was (from its mean grey level)."""
    return frames.reshape(len(frames), -1).mean(axis=1) / LEVEL
