"""A backbone is one record: what the visual features and the text tower are, on each profile.

`data.backbone` in a grounding or probe config names one of `BACKBONES`. Everything that depends on
a backbone reads its record: the config validation (which names exist), the mini build (which
micro-model makes the features, which text tower pairs with them, whether there are patch
features), the paper data sources (which open_clip model and weights file, which feature set,
which manifest artefacts a run needs), the Table 1 / Figure 1 sources (which CLIP) and
`vdi cache probe` (which micro-CLIPs exist). Adding a backbone is one entry here plus its files
(a micro-model config in mini/pretrain.py, manifest artefacts in data_manifest/manifest.toml).

Importing this module loads no torch (the CLI reads it to validate configs).
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import Registry


@dataclass(frozen=True)
class MiniSide:
    """How the mini profile builds the backbone (mini/build.py, mini/pretrain.py)."""

    image_model: str | None  # the micro-model whose image tower encodes the frames; None: not a model
    text_model: str  # the micro-model whose text tower pairs with the features
    patches: bool  # patch features for the spatial-dynamics loss (A7); none without a joint space (A11)
    feature_dim: int | None  # width of the frame (and patch) features; None: set by the world (gt-states)
    patch_grid: tuple[int, int] | None  # spatial tokens per frame (rows, cols)
    joint: bool  # an image-text model (zero-shot probes, Table 1 / Figure 1 on the toy world)
    text_backbone: str | None = None  # features with no text tower of their own take this backbone's


@dataclass(frozen=True)
class PaperSide:
    """What the paper profile needs for the backbone (data/paper_grounding.py, data/paper_probe.py)."""

    features: str  # "clip": extracted with `vdi features extract`; "vgg": 2D-TAN's Charades HDF5
    image_model: str | None  # open_clip name of the image tower that made the features (QuickGELU, A1)
    weights: str | None  # manifest artefact of the CLIP weights (image and text tower)
    text_kind: str  # "open_clip" | "hf" (towers/factory.py TEXT_TOWERS)
    artefacts: tuple[str, ...]  # every manifest artefact a grounding run on this backbone needs
    feature_dim: int
    patch_grid: tuple[int, int] | None

    @property
    def joint(self) -> bool:  # CLIP features: an image-text model
        return self.features == "clip"


@dataclass(frozen=True)
class Backbone:
    name: str
    summary: str
    mini: MiniSide | None = None
    paper: PaperSide | None = None

    @property
    def profiles(self) -> tuple[str, ...]:
        return tuple(p for p, side in (("mini", self.mini), ("paper", self.paper)) if side is not None)


BACKBONES: Registry[Backbone] = Registry("backbone", fix="add a record in vdi_core/backbones.py")


def register_backbone(b: Backbone) -> Backbone:
    BACKBONES.register(b.name, b)
    return b


_DISTILBERT = ("distilbert_config", "distilbert_weights", "distilbert_vocab", "distilbert_tokenizer_config")

register_backbone(Backbone(
    "vit-joint", "CLIP ViT: frame, patch and text features in one space (the paper's Joint, A1)",
    mini=MiniSide("vit-joint", "vit-joint", patches=True, feature_dim=64, patch_grid=(4, 4), joint=True),
    paper=PaperSide("clip", "ViT-B-32-quickgelu", "clip_vit_b32_openai", "open_clip", ("clip_vit_b32_openai",),
                    feature_dim=512, patch_grid=(7, 7)),
))
register_backbone(Backbone(
    "resnet-joint", "CLIP ResNet (Table 6's 'ResNet backbone provided by CLIP', A17)",
    mini=MiniSide("resnet-joint", "resnet-joint", patches=True, feature_dim=64, patch_grid=(2, 2), joint=True),
    paper=PaperSide("clip", "RN50-quickgelu", "clip_rn50_openai", "open_clip", ("clip_rn50_openai",),
                    feature_dim=1024, patch_grid=(7, 7)),
))
register_backbone(Backbone(
    "separated", "VGG frames + DistilBERT text, as MMN (the paper's Separated, S8): no joint space",
    mini=MiniSide("separated-image", "separated-text", patches=False, feature_dim=64, patch_grid=None, joint=False),
    paper=PaperSide("vgg", None, None, "hf", ("charades_vgg_2dtan", *_DISTILBERT), feature_dim=4096,
                    patch_grid=None),
))
register_backbone(Backbone(
    "gt-states", "the toy world's ground-truth states as features (premise rung P2a, mini/states.py); "
                 "text from vit-joint",
    mini=MiniSide(None, "vit-joint", patches=False, feature_dim=None, patch_grid=None, joint=False,
                  text_backbone="vit-joint"),
))


def backbone_for(name: str, profile: str) -> Backbone:
    """The record of `name`, refused (one line, did-you-mean) when the profile does not provide it."""
    from .errors import VdiError, did_you_mean

    b = BACKBONES.get(name)
    if profile not in b.profiles:
        here = [n for n in BACKBONES.names() if profile in BACKBONES.get(n).profiles]
        raise VdiError(f"data.backbone = {name!r} is not provided by the {profile} profile (only on "
                       f"{', '.join(b.profiles)}){did_you_mean(name, here)}")
    return b


def names_on(profile: str, joint: bool = False) -> tuple[str, ...]:
    """The backbones a profile provides (with joint=True: only image-text models)."""
    out = []
    for n in BACKBONES.names():
        side = getattr(BACKBONES.get(n), profile)
        if side is not None and (side.joint or not joint):
            out.append(n)
    return tuple(out)
