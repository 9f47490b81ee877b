"""Configuration of the `grounding` task (Tables 2-6): data, MMN model, losses, VDI, training.

Defaults are MMN's Charades recipe and our VDI reconstruction (docs/REPRODUCTION_NOTES.md; the
`vdi` section is vdi/settings.py). Every field that implements an assumption carries
`metadata={"assumption": "A.."}` so the rendered tables can list the assumptions in force
(resolve.assumption_fields). Sequences are tuples so configs hash stably. The allowed backbones and
injection forms are the registered ones (vdi_core/backbones.py, vdi/forms.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..backbones import BACKBONES
from ..errors import VdiError, did_you_mean
from ..vdi import settings as vdi_settings
from ..vdi.settings import VdiConfig

TEXT_TOWERS = ("backbone", "bag-of-words")
METHODS = ("mmn", "fixed_prior")
SELECTIONS = ("best", "last")


def _a(default, assumption: str):
    return field(default=default, metadata={"assumption": assumption})


@dataclass
class DataConfig:
    source: str = "grounding"
    train_split: str = "charades_cg/train"
    eval_split: str = "charades_cg/novel_word"
    backbone: str = "vit-joint"
    num_pre_clips: int = 32
    fps: float = _a(3.0, "A2")
    patch_frames: int = _a(32, "A2")
    # Premise ladder knobs, mini only (docs/PREMISE.md): the text side ("backbone": the tower paired
    # with the features) and whether novel words are replaced by an unseen token (rung P4).
    text_tower: str = "backbone"
    mask_novel_words: bool = False


@dataclass
class ModelConfig:
    method: str = "mmn"
    num_clips: int = 16
    pooling_counts: tuple[int, ...] = (15,)
    conv_layers: int = 8
    conv_kernel: int = 5
    joint_dim: int = 256
    hidden_dim: int = 512
    # Not in MMN (A19): proposal (i, j) also gets a learned 1x1 projection of clip j - clip i, so a
    # shallow proposal stack can compare a moment's end with its start. False is MMN.
    difference_map: bool = _a(False, "A19")
    # Sentence feature for MMN's heads when the text tower is CLIP: the EOT token (A13).
    clip_sentence_feature: str = _a("eot", "A13")


@dataclass
class LossConfig:
    min_iou: float = 0.5
    max_iou: float = 1.0
    tau_video: float = 0.1
    tau_sent: float = 0.1
    margin: float = 0.4
    weight: float = 0.05
    # IoU at or above which a same-video sentence / proposal is not a negative.
    negative_iou: float = 0.5
    # MMN gives excluded same-video proposals similarity 0 instead of removing them, so each
    # still adds e^0 = 1 to the sentence-anchored denominator. True reproduces MMN.
    mmn_denominator_quirk: bool = True


@dataclass
class TrainConfig:
    epochs: int = 18
    batch_size: int = 48  # videos, each with all its sentences
    lr: float = 1e-4
    milestones: tuple[int, ...] = (8, 13)
    gamma: float = 0.1
    weight_decay: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.99)
    freeze_text_epochs: int = _a(4, "A1")
    switch_epoch: int = 7
    text_lr_scale: float = _a(0.1, "A1, A20")  # the mini profile sets 0.012 (A20)
    clip_grad: float = 5.0
    # Train the text tower's token embedding with the rest of it (A18); true keeps it at its
    # pre-trained values (the 49,408-row embedding's dense AdamW update is the largest cost per step,
    # docs/ENGINEERING_NOTES.md section 3).
    freeze_token_embedding: bool = _a(False, "A18")
    selection: str = _a("best", "A16")
    eval_every: int = 1
    eval_batch_size: int = 64
    nms: float = 0.5


@dataclass
class GroundingConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    vdi: VdiConfig = field(default_factory=VdiConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        validate(self)


_CHOICES = {
    "data.backbone": BACKBONES,  # gt-states: mini only (docs/PREMISE.md); the sources refuse it on paper
    "data.text_tower": TEXT_TOWERS,
    "model.method": METHODS,
    **vdi_settings.CHOICES,
    "train.selection": SELECTIONS,
    "model.clip_sentence_feature": ("eot",),
}


def validate(cfg: GroundingConfig) -> None:
    """Raise VdiError naming the dotted key for any enumerated or numeric field out of range."""
    for key, choices in _CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in choices:
            choices = choices.names() if hasattr(choices, "names") else choices
            raise VdiError(f"grounding config: {key} = {value!r} is not allowed{did_you_mean(str(value), choices)}")
    m, t, d = cfg.model, cfg.train, cfg.data
    checks = [
        ("data.num_pre_clips", d.num_pre_clips % m.num_clips == 0 and d.num_pre_clips >= m.num_clips,
         f"must be a multiple of model.num_clips ({m.num_clips})"),
        ("model.pooling_counts", len(m.pooling_counts) > 0 and all(c > 0 for c in m.pooling_counts),
         "must be a non-empty tuple of positive counts, e.g. (15,)"),
        ("model.conv_layers", m.conv_layers >= 1, "must be >= 1"),
        ("model.conv_kernel", m.conv_kernel >= 1 and ((m.conv_kernel - 1) * m.conv_layers) % 2 == 0,
         "must be >= 1 with (kernel-1)*layers even, so the map keeps its size"),
        ("train.epochs", t.epochs >= 1, "must be >= 1"),
        ("train.batch_size", t.batch_size >= 1, "must be >= 1"),
        ("train.eval_every", t.eval_every >= 1, "must be >= 1"),
        ("loss.max_iou", cfg.loss.max_iou > cfg.loss.min_iou, "must exceed loss.min_iou"),
        ("vdi.lambda_vc", cfg.vdi.lambda_vc >= 0, "must be >= 0"),
        ("vdi.lambda_sd", cfg.vdi.lambda_sd >= 0, "must be >= 0"),
    ]
    for key, ok, how in checks:
        if not ok:
            section, name = key.split(".")
            raise VdiError(f"grounding config: {key} = {getattr(getattr(cfg, section), name)!r} {how}")

