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

from dataclasses import dataclass, field

from .registry import Registry


@dataclass(frozen=True)
class MiniSide:
    """How the mini profile builds the backbone (mini/build.py, mini/pretrain.py)."""

    image_model: str | None  # the micro-model whose image tower encodes the frames; None: not a model
    text_model: str  # the micro-model whose text tower pairs with the features
    patches: bool  # patch features for the spatial-dynamics loss (A7); none without a joint space (A11)
    joint: bool  # an image-text model (zero-shot probes, Table 1 / Figure 1 on the toy world)
    # open_clip config of the image model (embed_dim, vision_cfg; the text_cfg is the world's, A18)
    image_cfg: dict | None = None
    pretrain_steps: dict = field(default_factory=dict)  # micro-model -> pre-training steps
    text_backbone: str | None = None  # features with no text tower of their own take this backbone's

    @property
    def feature_dim(self) -> int | None:
        """Width of the frame (and patch) features; None: set by the world (gt-states)."""
        return self.image_cfg["embed_dim"] if self.image_cfg else None

    @property
    def patch_grid(self) -> tuple[int, int] | None:
        """Spatial tokens per frame: image / patch size for a ViT, image / 32 for a ModifiedResNet."""
        if not self.image_cfg:
            return None
        v = self.image_cfg["vision_cfg"]
        side = v["image_size"] // v.get("patch_size", 32)
        return (side, side)


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

# The micro-ViT: 2 layers, width 64, 16 tokens (a 4x4 grid, the patch features of VDI's L^sd), the
# frame feature the mean of the 16 projected tokens (pool_type "avg": a CLS token with two attention
# hops read a lone actor's grid cell 0.77 against 0.86 and the verbs 0.73 against 0.79, seed 0; docs/PREMISE.md,
# "Mean-pooled patches"). 1,000 pre-training steps: with captions that always place and size the
# actors (world.toml) the moves need them (docs/PREMISE.md, "The second world").
_VIT_CFG = {"layers": 2, "width": 64, "head_width": 32, "pool_type": "avg"}

register_backbone(Backbone(
    "vit-joint", "CLIP ViT: frame, patch and text features in one space (the paper's Joint, A1)",
    # A21: the tokens come from a convolutional trunk (ViT-hybrid, towers/stems.py): CLIP's ResNet stem
    # and three stages of width 8 read the frame at 64 px down to the 4x4 grid. With a linear patch
    # embedding (vit-joint-linear, below) an 8-12 px actor falls across up to four 8-px patches and
    # the tower never learns shape (zero-shot 0.23, chance 0.17: P0 fails); with the trunk, seed 0:
    # shape 0.45, grid cell 0.56, verb read-out 0.82 (docs/PREMISE.md, "A convolutional trunk").
    # The paper profile's CLIP ViT-B/32 keeps its linear patches: this is the micro-ViT's design.
    mini=MiniSide("vit-joint", "vit-joint", patches=True, joint=True,
                  image_cfg={"embed_dim": 64, "vision_cfg": {"image_size": 64, "patch_size": 16, **_VIT_CFG},
                             "stem": {"width": 8, "stages": 3}},
                  pretrain_steps={"vit-joint": 1000}),
    paper=PaperSide("clip", "ViT-B-32-quickgelu", "clip_vit_b32_openai", "open_clip", ("clip_vit_b32_openai",),
                    feature_dim=512, patch_grid=(7, 7)),
))
register_backbone(Backbone(
    "vit-joint-linear", "the micro-ViT with CLIP's linear patch embedding (patch 8 at 32 px): A21 off, "
                        "mini only; its features carry no shape (P0)",
    # the shipped micro-ViT until A21; the same 4x4 grid, width, depth, pooling and pre-training.
    # Its text tower is its own (pre-trained with it), so a row on it changes both sides.
    mini=MiniSide("vit-joint-linear", "vit-joint-linear", patches=True, joint=True,
                  image_cfg={"embed_dim": 64, "vision_cfg": {"image_size": 32, "patch_size": 8, **_VIT_CFG}},
                  pretrain_steps={"vit-joint-linear": 1000}),
))
register_backbone(Backbone(
    "resnet-joint", "CLIP ResNet (Table 6's 'ResNet backbone provided by CLIP', A17)",
    # ModifiedResNet [1,1,1,1] width 8: learns shape far better than a patch-8 ViT at 32 px; its
    # stride 32 leaves one spatial token at 32 px, so it reads the frames at 64 px (2x2 grid)
    mini=MiniSide("resnet-joint", "resnet-joint", patches=True, joint=True,
                  image_cfg={"embed_dim": 64, "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 8}},
                  pretrain_steps={"resnet-joint": 400}),
    paper=PaperSide("clip", "RN50-quickgelu", "clip_rn50_openai", "open_clip", ("clip_rn50_openai",),
                    feature_dim=1024, patch_grid=(7, 7)),
))
register_backbone(Backbone(
    "separated", "VGG frames + DistilBERT text, as MMN (the paper's Separated, S8): no joint space",
    # an image tower trained by classification only, and a tiny DistilBERT (mini/text_encoder.py)
    mini=MiniSide("separated-image", "separated-text", patches=False, joint=False,
                  image_cfg={"embed_dim": 64, "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 8}},
                  pretrain_steps={"separated-image": 250, "separated-text": 300}),
    paper=PaperSide("vgg", None, None, "hf", ("charades_vgg_2dtan", *_DISTILBERT), feature_dim=4096,
                    patch_grid=None),
))
register_backbone(Backbone(
    "gt-states", "the toy world's ground-truth states and their per-frame change as features (premise "
                 "ladder, mini/states.py); text from vit-joint",
    mini=MiniSide(None, "vit-joint", patches=False, joint=False, text_backbone="vit-joint"),
))
register_backbone(Backbone(
    "gt-states-static", "the toy world's ground-truth states alone, what a perfect frame feature could hold "
                        "(premise rung P2a, mini/states.py); text from vit-joint",
    mini=MiniSide(None, "vit-joint", patches=False, joint=False, text_backbone="vit-joint"),
))


def mini_image_cfgs() -> dict[str, dict]:
    """micro-model -> open_clip image config, for every mini backbone that pre-trains one."""
    return {b.mini.image_model: b.mini.image_cfg for b in map(BACKBONES.get, BACKBONES.names())
            if b.mini is not None and b.mini.image_cfg is not None}


def mini_pretrain_steps() -> dict[str, int]:
    """micro-model -> pre-training steps, over every mini backbone."""
    return {m: n for b in map(BACKBONES.get, BACKBONES.names()) if b.mini is not None
            for m, n in b.mini.pretrain_steps.items()}


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
