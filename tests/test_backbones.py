"""One record per backbone (vdi_core/backbones.py): what each profile reads from it is really there."""

import pytest

from vdi_core.backbones import BACKBONES, backbone_for, names_on
from vdi_core.data.manifest import load_manifest
from vdi_core.errors import VdiError
from vdi_core.grounding.config import BACKBONES as CONFIG_BACKBONES
from vdi_core.mini import pretrain


def test_the_grounding_config_accepts_exactly_the_records():
    assert tuple(CONFIG_BACKBONES) == BACKBONES.names()


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


def test_mini_models_exist_and_their_dims_match_the_micro_model_configs():
    for name in names_on("mini"):
        side = BACKBONES[name].mini
        for model in (side.image_model, side.text_model):
            assert model is None or model in pretrain.MODEL_CFGS or model in pretrain.PretrainConfig().steps, model
        if side.image_model in pretrain.MODEL_CFGS:
            cfg = pretrain.MODEL_CFGS[side.image_model]
            assert side.feature_dim == cfg["embed_dim"], name
            vision = cfg["vision_cfg"]
            if side.patch_grid is not None and "patch_size" in vision:  # a ViT: image / patch per side
                assert side.patch_grid == (vision["image_size"] // vision["patch_size"],) * 2
            elif side.patch_grid is not None:  # a ModifiedResNet: stride 32
                assert side.patch_grid == (vision["image_size"] // 32,) * 2
        assert side.patches == (side.patch_grid is not None)
