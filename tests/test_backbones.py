"""One record per backbone (vdi_core/backbones.py): what each profile reads from it is really there."""

import pytest

from vdi_core.backbones import BACKBONES, backbone_for, mini_image_cfgs, mini_pretrain_steps, names_on
from vdi_core.data.manifest import load_manifest
from vdi_core.errors import VdiError
from vdi_core.grounding.config import DataConfig, GroundingConfig
from vdi_core.mini import micro_models


def test_the_grounding_config_accepts_exactly_the_records():
    for name in BACKBONES.names():
        assert GroundingConfig(data=DataConfig(backbone=name)).data.backbone == name
    with pytest.raises(VdiError, match="data.backbone = 'vit-jont' is not allowed \\(did you mean 'vit-joint'\\?\\)"):
        GroundingConfig(data=DataConfig(backbone="vit-jont"))


def test_profiles_and_joint_models():
    assert names_on("mini") == ("vit-joint", "resnet-joint", "separated", "gt-states")
    assert names_on("paper") == ("vit-joint", "resnet-joint", "separated")
    assert names_on("mini", joint=True) == names_on("paper", joint=True) == ("vit-joint", "resnet-joint")
    assert BACKBONES["gt-states"].profiles == ("mini",)
    with pytest.raises(VdiError, match="'gt-states' is not provided by the paper profile \\(only on mini\\)"):
        backbone_for("gt-states", "paper")
    with pytest.raises(VdiError, match="unknown backbone 'vit-jont' \\(did you mean 'vit-joint'\\?\\)"):
        backbone_for("vit-jont", "mini")


def test_paper_artefacts_are_in_the_manifest():
    manifest = load_manifest()
    for name in names_on("paper"):
        side = BACKBONES[name].paper
        assert set(side.artefacts) <= set(manifest), name
        if side.features == "clip":
            assert side.weights in side.artefacts and side.text_kind == "open_clip"


def test_mini_records_are_what_pretrain_builds():
    """mini/pretrain.py builds the micro-models from the records: same configs, same step counts."""
    assert micro_models.MODEL_CFGS == mini_image_cfgs()
    assert micro_models.model_cfg("vit-joint", ["a</w>", "b</w>"])["text_cfg"]["vocab_size"] == 5
    assert micro_models.PretrainConfig().steps == mini_pretrain_steps() == {
        "vit-joint": 500, "resnet-joint": 400, "separated-image": 250, "separated-text": 300}
    for name in names_on("mini"):
        side = BACKBONES[name].mini
        assert side.image_model is None or side.image_model in side.pretrain_steps
        assert side.patches == (side.joint and side.patch_grid is not None)
    assert BACKBONES["vit-joint"].mini.patch_grid == (4, 4) and BACKBONES["resnet-joint"].mini.patch_grid == (2, 2)
    assert BACKBONES["vit-joint"].mini.feature_dim == 64 and BACKBONES["gt-states"].mini.feature_dim is None
