"""The micro-models' settings, without torch: their open_clip configs and the pre-training recipe.

The image towers' configs and step counts come from the backbone records (vdi_core/backbones.py);
the text tower is the world's (a compact vocabulary, A18). `MiniBuild` keys its model cache on
`PretrainConfig`, and planning a mini row builds a `MiniBuild`, so this module must stay free of
torch: the training itself is mini/pretrain.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..backbones import mini_image_cfgs, mini_pretrain_steps

# vocab_size is set per world by model_cfg: the micro-CLIPs use a compact vocabulary (A18)
TEXT_CFG = {"context_length": 24, "width": 64, "heads": 2, "layers": 2}
MODEL_CFGS = mini_image_cfgs()  # micro-model -> open_clip image config (embed_dim, vision_cfg)
# the "separated" text encoder's DistilBERT (mini/text_encoder.py)
BERT_CFG = {"dim": 64, "hidden_dim": 128, "n_layers": 2, "n_heads": 2, "max_position_embeddings": 64}


def architectures() -> dict:
    """Every micro-model's architecture, for the model cache key: a cached model was built from its
    cached config, so an edited architecture that did not move the key would be silently ignored."""
    return {"clip_image": MODEL_CFGS, "clip_text": TEXT_CFG, "separated_text": BERT_CFG}


def model_cfg(name: str, pieces: list[str]) -> dict:
    """open_clip config of a micro-CLIP: one token-embedding row per compact id (padding/unknown,
    the pieces, SOT, EOT). A convolutional trunk (`stem`, towers/stems.py) is not open_clip's: it
    is installed after the model is built, and saved beside the config."""
    cfg = {k: v for k, v in MODEL_CFGS[name].items() if k != "stem"}
    return {**cfg, "text_cfg": {**TEXT_CFG, "vocab_size": len(pieces) + 3}}


def stem_cfg(name: str) -> dict | None:
    """The micro-model's convolutional trunk settings (A21), or None for a plain open_clip tower."""
    return MODEL_CFGS.get(name, {}).get("stem")


@dataclass(frozen=True)
class PretrainConfig:
    steps: dict = field(default_factory=mini_pretrain_steps)
    batch_size: int = 256
    lr: float = 3e-3
    warmup: float = 0.05
    # one thread: on a shared 2-core machine two OpenMP threads per process oversubscribe the
    # cores and ran ~10x slower than one (measured while other runs were active)
    threads: int = 1
