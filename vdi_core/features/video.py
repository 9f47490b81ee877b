"""Decode a video with PyAV and sample frames at a fixed rate (A2: global features at `fps`).

Sampling: the video's decoded length D (last frame time + one frame period) gives
T = max(1, floor(D * fps)) sample times t_k = (k + 0.5) / fps, the centres of T equal bins;
each takes the last decoded frame shown at or before t_k. Frames are picked while streaming, so
only the T sampled frames are ever held in memory, never the whole video.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VdiError


@dataclass
class DecodedVideo:
    frames: np.ndarray  # uint8 [T, H, W, 3]
    times: np.ndarray  # float64 [T], presentation time (s) of each sampled frame
    duration: float  # decoded length in seconds


def _bad(path: Path, why: str) -> VdiError:
    return VdiError(f"{path}: {why}; the file is truncated or corrupt: re-download it "
                    "(vdi data fetch charades_videos_480) or remove it from --videos")


def decode_at_fps(path: Path, fps: float) -> DecodedVideo:
    import av  # PyAV; imported here so the CLI starts without it

    if fps <= 0:
        raise VdiError(f"--fps must be positive, got {fps}")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise _bad(path, f"cannot be opened ({e})") from None
    picked: list[np.ndarray] = []
    times: list[float] = []
    prev, prev_t, last_t = None, 0.0, None
    try:
        with container:
            if not container.streams.video:
                raise _bad(path, "has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb = float(stream.time_base) if stream.time_base else 0.0
            t0 = (stream.start_time or 0) * tb
            for i, frame in enumerate(container.decode(stream)):
                t = (frame.pts * tb - t0) if frame.pts is not None else i / float(stream.average_rate or 25)
                # `prev` is the last frame shown at or before every target time below t.
                while prev is not None and (len(picked) + 0.5) / fps < t:
                    picked.append(prev.to_ndarray(format="rgb24"))
                    times.append(prev_t)
                prev, prev_t, last_t = frame, t, t
            rate = float(stream.average_rate or 0) or 25.0
    except av.FFmpegError as e:
        raise _bad(path, f"failed to decode ({e})") from None
    if prev is None:
        raise _bad(path, "has no decodable frames")
    duration = last_t + 1.0 / rate
    n = max(1, int(np.floor(duration * fps + 1e-9)))
    last = prev.to_ndarray(format="rgb24")
    while len(picked) < n:  # targets after the last frame's time hold the last frame
        picked.append(last)
        times.append(prev_t)
    return DecodedVideo(np.stack(picked[:n]), np.asarray(times[:n]), float(duration))
