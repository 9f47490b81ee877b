"""A convolutional trunk as a micro-ViT's patch embedding: the ViT-hybrid of Dosovitskiy et al. (2021).

open_clip's VisionTransformer turns an image into tokens with one strided conv (`visual.conv1`, a
linear map of each patch). A hybrid replaces that conv with the first stages of a CLIP
ModifiedResNet (its three-conv stem, then `stages` bottleneck stages), followed by a 1x1 conv to the
transformer's width; everything after it (class/positional embedding, transformer, pooling) is the
ViT's. The trunk's stride must equal the ViT's patch size, so the token grid, the positional
embedding and the patch features VDI's L^sd differences (A7) keep the shape the config states.

Why the mini profile needs it (A21, docs/REPRODUCTION_NOTES.md; docs/PREMISE.md, "A convolutional
trunk"): a toy actor is 8-12 px and falls across up to four 8-px patches at random offsets. A linear
patch embedding plus two transformer layers cannot put the pieces together: trained *for* shape it
reached 0.38 on lone actors, and contrastive pre-training taught it none (zero-shot 0.23, chance
0.17), so the premise rung P0 failed. The paper profile's CLIP ViT-B/32 keeps its linear patches.

A micro-model with a trunk saves its settings beside its open_clip JSON (`<name>.stem.json`), and
`load_clip` installs the trunk before the weights load, as it reads `<name>.vocab.json` for the
compact vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from ..errors import VdiError

STEM_KEYS = {"width": int, "stages": int}


def stem_path(config_path: str | Path) -> Path:
    """Where a custom model keeps its trunk settings: `<name>.stem.json` beside `<name>.json`."""
    cfg = Path(config_path)
    return cfg.with_name(cfg.stem + ".stem.json")


def check_stem(cfg: object, where: str) -> dict:
    """The trunk settings, or a one-line error naming the bad key."""
    if not isinstance(cfg, dict):
        raise VdiError(f"{where}: the stem must be a table with keys {sorted(STEM_KEYS)}, got {type(cfg).__name__}")
    unknown = set(cfg) - set(STEM_KEYS)
    missing = set(STEM_KEYS) - set(cfg)
    if unknown or missing:
        raise VdiError(f"{where}: stem keys must be exactly {sorted(STEM_KEYS)} "
                       f"(unknown: {sorted(unknown) or 'none'}, missing: {sorted(missing) or 'none'})")
    for k, kind in STEM_KEYS.items():
        if not isinstance(cfg[k], kind) or isinstance(cfg[k], bool) or cfg[k] < 1:
            raise VdiError(f"{where}: stem.{k} must be a positive integer, got {cfg[k]!r}")
    if cfg["stages"] > 3:
        raise VdiError(f"{where}: stem.stages must be 1-3 (a fourth stage is the ResNet itself), got {cfg['stages']}")
    return cfg


def stem_stride(cfg: dict) -> int:
    """Pixels per token: the stem's /4 (two stride-2 steps), then /2 for every stage after the first."""
    return 4 * 2 ** (cfg["stages"] - 1)


class ConvTrunk(nn.Module):
    """ModifiedResNet stem + `stages` stages (width `width`), then a 1x1 conv to `out_width` channels."""

    def __init__(self, out_width: int, width: int, stages: int, image_size: int):
        super().__init__()
        from open_clip.modified_resnet import ModifiedResNet

        # built from CLIP's own ResNet so the blocks (anti-aliased strides, BN, ReLU) are CLIP's; its
        # last stage and attention pool are not used
        r = ModifiedResNet(layers=[1, 1, 1, 1], output_dim=out_width, heads=2, image_size=image_size, width=width)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.act1, r.conv2, r.bn2, r.act2, r.conv3, r.bn3, r.act3, r.avgpool)
        self.stages = nn.Sequential(*[getattr(r, f"layer{k}") for k in range(1, stages + 1)])
        self.out = nn.Conv2d(width * 4 * 2 ** (stages - 1), out_width, kernel_size=1)

    def forward(self, x):
        return self.out(self.stages(self.stem(x)))


def install_stem(model: nn.Module, cfg: dict, where: str = "stem") -> nn.Module:
    """Replace an open_clip CLIP's linear patch embedding by a ConvTrunk (in place; returns the model)."""
    check_stem(cfg, where)
    visual = getattr(model, "visual", None)
    conv = getattr(visual, "conv1", None)
    if not isinstance(conv, nn.Conv2d) or not hasattr(visual, "positional_embedding"):
        raise VdiError(f"{where}: a convolutional trunk replaces a ViT's patch embedding, but "
                       f"{type(visual).__name__} has none; use it only on a ViT config")
    patch = conv.kernel_size[0]
    if stem_stride(cfg) != patch:
        raise VdiError(f"{where}: a trunk of {cfg['stages']} stages has stride {stem_stride(cfg)} but the ViT's "
                       f"patch_size is {patch}; they must be equal (stages 1/2/3 = patch 4/8/16)")
    size = visual.image_size if isinstance(visual.image_size, int) else visual.image_size[0]
    visual.conv1 = ConvTrunk(conv.out_channels, cfg["width"], cfg["stages"], size)
    return model


def read_stem(config_path: str | Path | None) -> dict | None:
    """The trunk settings saved beside a custom model's config, or None when it has none."""
    if not config_path or not stem_path(config_path).is_file():
        return None
    path = stem_path(config_path)
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise VdiError(f"{path}: not a readable JSON object of stem settings ({e}); rebuild the model") from e
    return check_stem(cfg, str(path))
