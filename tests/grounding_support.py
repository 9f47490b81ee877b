"""Tiny grounding worlds for the grounding / VDI tests: random features with the answer visible
(a feature spike inside each moment), registered as the "test" profile's grounding source."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from _tiny_clip import tiny_spec

from vdi_core.datatypes import GroundingSplits, Query, Video
from vdi_core.grounding.config import DataConfig, GroundingConfig, LossConfig, ModelConfig, TrainConfig
from vdi_core.sources import register_source
from vdi_core.tasks import RunContext
from vdi_core.vdi.settings import VdiConfig

DIM = 32  # the tiny CLIP's embed_dim, so the VDI projection is the identity
SENTENCES = ["a person opens the door.", "person quickly puts a book on the shelf.",
             "the person turns off the light.", "someone is eating a sandwich.",
             "person sits down on a chair.", "a man throws a pillow onto the bed."]
_CURRENT: dict[str, GroundingSplits] = {}


@register_source("test", "grounding")
def _test_source(data_cfg, ctx):
    return _CURRENT["splits"]


def use_splits(splits: GroundingSplits) -> None:
    _CURRENT["splits"] = splits


def make_videos(n: int, rng: np.random.Generator, directions: np.ndarray, *, frames: int = 48, queries: int = 2,
                spike: float = 3.0,
                patches: bool = True, prefix: str = "v") -> list[Video]:
    """Videos of noise frames; each query's moment (random, Dirichlet-like) carries a spike
    along a direction tied to its sentence, so the moment is visible in the features."""
    videos = []
    for v in range(n):
        duration = float(rng.uniform(20, 40))
        x = rng.standard_normal((frames, DIM)).astype(np.float32)
        qs = []
        for k in range(queries):
            length = rng.uniform(0.15, 0.45) * duration
            start = rng.uniform(0, duration - length)
            sent = int(rng.integers(len(SENTENCES)))
            t = (np.arange(frames) + 0.5) * duration / frames
            inside = (t >= start) & (t <= start + length)
            x[inside] += spike * directions[sent]
            qs.append(Query(qid=f"{prefix}{v}q{k}", sentence=SENTENCES[sent], moment=(start, start + length)))
        p = None
        if patches:
            noise = 0.1 * rng.standard_normal((len(x[::3]), 4, DIM)).astype(np.float32)
            p = np.repeat(x[::3, None, :], 4, axis=1) + noise
        videos.append(Video(vid=f"{prefix}{v}", duration=duration, frames=x, patches=p, queries=qs))
    return videos


def make_splits(tmp: Path, n_train: int = 8, n_eval: int = 4, seed: int = 0, **kw) -> GroundingSplits:
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((len(SENTENCES), DIM)).astype(np.float32)  # one per sentence, both splits
    train = make_videos(n_train, rng, directions, prefix="tr", **kw)
    evals = make_videos(n_eval, rng, directions, prefix="ev", **kw)
    return GroundingSplits(train=train, eval=evals, text=tiny_spec(tmp / "tiny"), feature_dim=DIM,
                           fingerprint=f"test-{seed}-{n_train}-{n_eval}")


def tiny_config(**sections) -> GroundingConfig:
    """Small MMN (N=8) that trains in well under a second per epoch; override sections with
    dicts, e.g. tiny_config(vdi={"lambda_vc": 0.0})."""
    cfg = GroundingConfig(
        data=DataConfig(source="grounding", num_pre_clips=16),
        model=ModelConfig(num_clips=8, pooling_counts=(7,), conv_layers=2, conv_kernel=3, joint_dim=16,
                          hidden_dim=16),
        loss=LossConfig(),
        vdi=VdiConfig(),
        train=TrainConfig(epochs=2, batch_size=4, lr=1e-3, milestones=(8,), freeze_text_epochs=1, switch_epoch=1,
                          eval_batch_size=8))
    for name, values in sections.items():
        cfg = replace(cfg, **{name: replace(getattr(cfg, name), **values)})
    return cfg


def make_ctx(tmp: Path, seed: int = 0, **kw) -> RunContext:
    (tmp / "work").mkdir(parents=True, exist_ok=True)
    kw.setdefault("log", lambda msg: None)
    return RunContext(profile="test", seed=seed, device="cpu", work_dir=tmp / "work", cache_dir=tmp / "cache", **kw)


class Killed(Exception):
    """Stands in for a process killed mid-run (raised from the progress callback)."""


def kill_after(epoch: int):
    """A progress callback that 'kills' the run once `epoch` has finished and been checkpointed."""

    def progress(stage, i, n):
        if i == epoch:
            raise Killed

    return progress
