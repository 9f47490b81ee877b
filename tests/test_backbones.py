"""One record per backbone (vdi_core/backbones.py): what each profile reads from it is really there."""

import json
import subprocess
import sys

import pytest

from vdi_core.backbones import BACKBONES, backbone_for, mini_image_cfgs, mini_pretrain_steps, names_on
from vdi_core.data.manifest import load_manifest
from vdi_core.errors import VdiError
from vdi_core.grounding.config import DataConfig, GroundingConfig
from vdi_core.mini import micro_models

from conftest import REPO


def test_the_grounding_config_accepts_exactly_the_records():
    for name in BACKBONES.names():
        assert GroundingConfig(data=DataConfig(backbone=name)).data.backbone == name
    with pytest.raises(VdiError, match="data.backbone = 'vit-jont' is not allowed \\(did you mean 'vit-joint'\\?\\)"):
        GroundingConfig(data=DataConfig(backbone="vit-jont"))


def test_profiles_and_joint_models():
    assert names_on("mini") == ("vit-joint", "vit-joint-linear", "resnet-joint", "separated", "gt-states",
                                "gt-states-static")
    assert names_on("paper") == ("vit-joint", "resnet-joint", "separated")
    assert names_on("paper", joint=True) == ("vit-joint", "resnet-joint")
    assert names_on("mini", joint=True) == ("vit-joint", "vit-joint-linear", "resnet-joint")
    with pytest.raises(VdiError, match="'vit-joint-linear' is not provided by the paper profile \\(only on mini\\)"):
        backbone_for("vit-joint-linear", "paper")
    assert BACKBONES["gt-states"].profiles == BACKBONES["gt-states-static"].profiles == ("mini",)
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
        "vit-joint": 1000, "vit-joint-linear": 1000, "resnet-joint": 400, "separated-image": 250,
        "separated-text": 300}
    for name in names_on("mini"):
        side = BACKBONES[name].mini
        assert side.image_model is None or side.image_model in side.pretrain_steps
        assert side.patches == (side.joint and side.patch_grid is not None)
    assert BACKBONES["vit-joint"].mini.patch_grid == (4, 4) and BACKBONES["resnet-joint"].mini.patch_grid == (2, 2)
    assert BACKBONES["vit-joint"].mini.feature_dim == 64 and BACKBONES["gt-states"].mini.feature_dim is None


def test_a_new_backbone_is_one_record(tmp_path):
    """Register one record (here a wider micro-ViT, mini only) before anything else reads the registry:
    the grounding config accepts it, the mini build knows its micro-model, config and steps, the
    mini data source states its identity, the paper source refuses it. Run in a fresh interpreter so
    the suite's registries stay as they are."""
    code = f"""
import json
from types import SimpleNamespace
from vdi_core.backbones import Backbone, MiniSide, register_backbone
register_backbone(Backbone("vit-wide", "a wider micro-ViT", mini=MiniSide(
    "vit-wide", "vit-wide", patches=True, joint=True, pretrain_steps={{"vit-wide": 5}},
    image_cfg={{"embed_dim": 96, "vision_cfg": {{"image_size": 32, "layers": 2, "width": 96, "head_width": 32,
                                                "patch_size": 8}}}})))
from vdi_core.errors import VdiError
from vdi_core.grounding.config import DataConfig, GroundingConfig
from vdi_core.mini.build import MiniBuild
from vdi_core.mini.loaders import grounding_fingerprint
from vdi_core.mini.micro_models import MODEL_CFGS, PretrainConfig
from vdi_core.sources import source_entry
cfg = GroundingConfig(data=DataConfig(backbone="vit-wide", train_split="train", eval_split="test"))
ctx = SimpleNamespace(cache_dir={str(tmp_path)!r}, log=print, profile="mini")
build = MiniBuild(ctx.cache_dir)
out = {{"cfg": MODEL_CFGS["vit-wide"]["embed_dim"], "steps": PretrainConfig().steps["vit-wide"],
        "text": build.text_model("vit-wide"), "patches": build.patch_frames_for("vit-wide", 32),
        "fp": grounding_fingerprint(cfg.data, ctx)}}
try:
    source_entry("paper", "grounding").fingerprint(DataConfig(backbone="vit-wide"), ctx)
except VdiError as e:
    out["paper"] = str(e)
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["cfg"] == 96 and out["steps"] == 5 and out["text"] == "vit-wide" and out["patches"] == 32
    assert "-vit-wide-p32-train-test" in out["fp"]["data"] and out["fp"]["text_tower"].endswith("-vit-wide")
    assert "'vit-wide' is not provided by the paper profile (only on mini)" in out["paper"]
