"""A tiny random open_clip model for tests: custom JSON in a temp folder, nothing downloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a tag lookup must never try the network in tests

TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def write_tiny_config(folder: Path, name: str = "vdi-test-tiny") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(TINY_CFG))
    return path


def tiny_spec(folder: Path, weights: str | None = None, name: str = "vdi-test-tiny"):
    """A ModelSpec of the tiny model; with weights=None a checkpoint of a seeded random init is
    written first, so every load gives the same numbers."""
    import open_clip
    import torch

    from vdi_core.datatypes import ModelSpec

    cfg = write_tiny_config(folder, name)
    if weights is None:
        ckpt = folder / f"{name}.pt"
        if not ckpt.exists():
            open_clip.add_model_config(cfg)
            torch.manual_seed(0)
            model = open_clip.create_model(name, pretrained=None)
            torch.save(model.state_dict(), ckpt)
        weights = str(ckpt)
    return ModelSpec(kind="open_clip", model=name, config_path=str(cfg), weights=weights, fingerprint=name)
