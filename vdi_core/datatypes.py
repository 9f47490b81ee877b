"""The data interfaces between data sources (mini world, real files) and tasks.

A data source (`vdi_core.sources`) produces one of these; a task consumes it and never looks at
where it came from. Both profiles produce exactly these types, so every table runs the same code.

Shared helpers with fixed signatures (owned by their modules):
  vdi_core.towers.clip.load_clip(spec: ModelSpec, device="cpu") -> (model, preprocess, tokenizer)
  vdi_core.towers.image.encode_frames(model, frames, *, patch_frames, batch_size, device)
      -> (global [T, D] float32, patches [T', P, D] float32 | None)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    """How to build a pre-trained model (a text tower, or a whole CLIP) from local files.

    kind "open_clip": `model` is an open_clip model name; `config_path` an optional custom model
    JSON registered first (its stem is the model name); `weights` a local checkpoint path, or
    None for random init. kind "hf": `model` is a local Hugging Face directory (config, weights,
    tokenizer), e.g. DistilBERT. Never a hub name: nothing may be downloaded at run time.
    """

    kind: str
    model: str
    config_path: str | None = None
    weights: str | None = None
    fingerprint: str = ""  # hash of config + weights, recorded with every run


# --- grounding (Tables 2-6) -------------------------------------------------------------------


@dataclass
class Query:
    qid: str
    sentence: str
    moment: tuple[float, float]  # seconds, already clamped to [0, duration], start < end
    # Who does what, when the source knows it (the mini world): the actor (unique within the video)
    # and the verb. They feed the verb-pair / noun-pair metrics (grounding/pairs.py); None on real data.
    actor: str | None = None
    verb: str | None = None


@dataclass
class Video:
    vid: str
    duration: float  # seconds
    frames: np.ndarray  # X^v: [T, d] float32 global frame features, uniformly sampled in time
    # X~^v: [T', P, d] patch features (same joint space), or None; any array-like (the paper profile
    # passes features.feature_sets.LazyPatches, read from disk on np.asarray)
    patches: np.ndarray | None
    queries: list[Query] = field(default_factory=list)


@dataclass
class GroundingSplits:
    train: list[Video]
    eval: list[Video]
    text: ModelSpec  # the text tower matching the features (CLIP text, or DistilBERT)
    feature_dim: int
    fingerprint: str  # data + features; enters the run key and the provenance
    skipped: dict[str, int] = field(default_factory=dict)  # counted, logged skips by reason


# --- probe (Table 1) --------------------------------------------------------------------------


@dataclass
class Triplet:
    sentence: str
    positive: np.ndarray  # uint8 [H, W, 3] image the sentence describes
    negative: np.ndarray  # uint8 [H, W, 3] image that differs in one aspect
    neg_type: str  # "subject" | "verb" | "object"


@dataclass
class ProbeData:
    triplets: list[Triplet]
    clip: ModelSpec  # full image-text model
    fingerprint: str
    unavailable: dict[str, int] = field(default_factory=dict)  # e.g. images that failed to load


# --- word weights (Figure 1) ------------------------------------------------------------------


@dataclass
class SentenceSets:
    sets: dict[str, list[str]]  # data set name (e.g. "charades_sta") -> sentences
    clip: ModelSpec
    fingerprint: str
