"""Build the text tower named by a `ModelSpec`: open_clip's CLIP text ("Joint") or a Hugging
Face encoder such as DistilBERT ("Separated"). Every tower is an nn.Module with
`forward(sentences) -> TextEncoding` (per-token last-layer states, token character spans,
sentence feature) and `dim`, the width of its token and sentence features."""

from __future__ import annotations

from torch import nn

from ..datatypes import ModelSpec
from ..errors import VdiError, did_you_mean


def _clip_text(spec: ModelSpec, device: str) -> nn.Module:
    from .clip import ClipTextTower, load_clip

    model, _, tokenizer = load_clip(spec, device)  # a private deep copy: fine-tuning it is safe
    model.visual = None  # the image tower is frozen and its features precomputed (A1)
    tower = ClipTextTower(model, tokenizer)
    proj = model.text_projection
    if proj is None:
        tower.dim = int(model.ln_final.normalized_shape[0])
    else:
        tower.dim = int(proj.out_features if isinstance(proj, nn.Linear) else proj.shape[1])
    return tower.train()


def _hf_text(spec: ModelSpec, device: str) -> nn.Module:
    from .hf_text import load_hf_text

    return load_hf_text(spec, device).train()


def _bow_text(spec: ModelSpec, device: str) -> nn.Module:
    from .bow import load_bow_text

    return load_bow_text(spec, device)


TEXT_TOWERS = {"open_clip": _clip_text, "hf": _hf_text, "bag-of-words": _bow_text}


def build_text_tower(spec: ModelSpec, device: str = "cpu") -> nn.Module:
    if spec.kind not in TEXT_TOWERS:
        raise VdiError(f"unknown text tower kind '{spec.kind}' for {spec.model}{did_you_mean(spec.kind, TEXT_TOWERS)}")
    return TEXT_TOWERS[spec.kind](spec, device)
