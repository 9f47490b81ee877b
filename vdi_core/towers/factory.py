"""Build the text tower named by a `ModelSpec`: open_clip's CLIP text ("Joint"), a Hugging Face
encoder such as DistilBERT ("Separated"), or the premise ladder's bag-of-words. Every tower is an
nn.Module with `forward(sentences) -> TextEncoding` (per-token last-layer states, token character
spans, sentence feature) and `dim`, the width of its token and sentence features.

`TEXT_TOWERS` maps `ModelSpec.kind` to a builder `(spec, device) -> nn.Module`; a new kind is one
`TEXT_TOWERS.register(kind, "package.module:builder")`. Importing this module loads no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..datatypes import ModelSpec
from ..registry import Registry

if TYPE_CHECKING:
    from torch import nn


def _clip_text(spec: ModelSpec, device: str) -> nn.Module:
    from torch import nn

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


TEXT_TOWERS: Registry = Registry("text tower kind", fix="register it in vdi_core/towers/factory.py")
TEXT_TOWERS.register("open_clip", _clip_text)
TEXT_TOWERS.register("hf", _hf_text)
TEXT_TOWERS.register("bag-of-words", "vdi_core.towers.bow:load_bow_text")


def build_text_tower(spec: ModelSpec, device: str = "cpu") -> nn.Module:
    return TEXT_TOWERS.get(spec.kind)(spec, device)
