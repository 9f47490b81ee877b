"""From `GroundingSplits` videos to tensors MMN trains on: validated, pooled, batched by video.

Bad input is handled here once, before any training: malformed features (wrong rank or dim,
NaN/inf, a non-positive duration) raise one VdiError naming the video; a video with zero frames,
an empty sentence, or a moment that is empty after clamping to the video is skipped and counted
(`skipped` reason -> count), never silently trained or scored.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..datatypes import Video
from ..errors import VdiError


@dataclass
class PreparedSplit:
    """One split as tensors. Videos are rows of `feats`; queries point at their video."""

    feats: torch.Tensor  # [V, P, d] L2-normalised frames average-pooled to NUM_PRE_CLIPS
    durations: torch.Tensor  # [V] seconds
    sentences: list[str]  # [Q]
    qids: list[str]  # [Q]
    video_of: torch.Tensor  # [Q] long, row in feats
    moments: torch.Tensor  # [Q, 2] seconds, clamped, start < end
    dynamic: torch.Tensor | None  # [Q, d] A7/A11 spatial dynamic feature per query, or None
    vids: list[str]
    pair_groups: dict | None = None  # query rows that share an actor / a verb (grounding/pairs.py)

    @property
    def num_queries(self) -> int:
        return len(self.sentences)

    def queries_of(self, video_rows: torch.Tensor) -> torch.Tensor:
        """Indices of every query of the given videos, in video order (MMN batches whole videos)."""
        wanted = torch.zeros(len(self.vids), dtype=torch.bool)
        wanted[video_rows] = True
        order = torch.argsort(self.video_of, stable=True)
        return order[wanted[self.video_of[order]]]


def pool_frames(frames: torch.Tensor, num_pre_clips: int) -> torch.Tensor:
    """MMN's feature pooling: L2-normalise each frame, then average frames round(k*T/P) ..
    round((k+1)*T/P) (end exclusive) into segment k; an empty segment takes its start frame."""
    T = frames.shape[0]
    frames = F.normalize(frames, dim=-1)
    idx = (torch.arange(num_pre_clips + 1, dtype=torch.float64) / num_pre_clips * T).round().long()
    idx = idx.clamp(max=T - 1)
    out = []
    for k in range(num_pre_clips):
        s, e = int(idx[k]), int(idx[k + 1])
        out.append(frames[s:e].mean(0) if s < e else frames[s])
    return torch.stack(out)


def _check_features(name: str, arr, rank: int, feature_dim: int, vid: str) -> None:
    if arr.ndim != rank:
        raise VdiError(f"video '{vid}': {name} have shape {tuple(arr.shape)}, expected {rank} dims; "
                       "re-extract the features")
    if arr.shape[-1] != feature_dim:
        raise VdiError(f"video '{vid}': {name} have dim {arr.shape[-1]}, expected feature_dim {feature_dim}; "
                       "the features do not match the backbone, re-extract them")
    if arr.size and not np.isfinite(arr).all():
        raise VdiError(f"video '{vid}': {name} contain NaN or inf; re-extract the features of this video")


def prepare_split(videos: list[Video], *, feature_dim: int, num_pre_clips: int, dynamic_fn=None,
                  split: str = "split") -> tuple[PreparedSplit, Counter]:
    """Validate, clamp and pool one split. `dynamic_fn(video, moment) -> [d] tensor` adds the
    per-query spatial dynamic feature (it depends only on the features, so it is computed once)."""
    skipped: Counter = Counter()
    feats, durs, sents, qids, vof, moms, dyn, vids = [], [], [], [], [], [], [], []
    for v in videos:
        if not (isinstance(v.duration, (int, float)) and math.isfinite(v.duration) and v.duration > 0):
            raise VdiError(f"video '{v.vid}' in {split}: duration {v.duration!r} must be a positive number of seconds")
        frames = np.asarray(v.frames)
        if frames.ndim == 2 and frames.shape[0] == 0:
            skipped["video_zero_frames"] += 1
            skipped["query_of_zero_frame_video"] += len(v.queries)
            continue
        _check_features("frame features", frames, 2, feature_dim, v.vid)
        if v.patches is not None:
            _check_features("patch features", np.asarray(v.patches), 3, feature_dim, v.vid)
        kept = []
        for q in v.queries:
            s, e = float(q.moment[0]), float(q.moment[1])
            if not q.sentence or not q.sentence.strip():
                skipped["query_empty_sentence"] += 1
            elif not (math.isfinite(s) and math.isfinite(e)) or s >= e:
                skipped["query_start_ge_end"] += 1
            elif max(s, 0.0) >= min(e, v.duration):
                skipped["query_moment_outside_video"] += 1
            else:
                kept.append((q, (max(s, 0.0), min(e, float(v.duration)))))
        if not kept:
            skipped["video_without_queries"] += 1
            continue
        row = len(vids)
        vids.append(v.vid)
        durs.append(float(v.duration))
        feats.append(pool_frames(torch.from_numpy(frames.astype(np.float32)), num_pre_clips))
        for q, m in kept:
            # one space between words, so the char offsets of spaCy and of the tokenizer agree
            sents.append(" ".join(q.sentence.split()))
            qids.append(q.qid)
            vof.append(row)
            moms.append(m)
            if dynamic_fn is not None:
                dyn.append(dynamic_fn(v, m))
    if not vids:
        raise VdiError(f"grounding {split}: no usable video left (skipped: {dict(skipped)}); check the data source")
    prepared = PreparedSplit(
        feats=torch.stack(feats), durations=torch.tensor(durs, dtype=torch.float32), sentences=sents,
        qids=qids, video_of=torch.tensor(vof, dtype=torch.long),
        moments=torch.tensor(moms, dtype=torch.float32),
        dynamic=torch.stack(dyn).float() if dyn else None, vids=vids)
    return prepared, skipped


def video_batches(num_videos: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    """Rows of videos per batch; shuffled with `generator` (training) or in order (evaluation)."""
    order = torch.randperm(num_videos, generator=generator) if generator is not None else torch.arange(num_videos)
    return list(order.split(batch_size))
