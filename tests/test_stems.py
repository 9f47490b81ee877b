"""The micro-ViT's convolutional trunk (A21, vdi_core/towers/stems.py): its geometry, its save/load
round trip through load_clip, and one-line errors for settings that cannot work."""

import json

import pytest
import torch

from vdi_core.backbones import BACKBONES
from vdi_core.errors import VdiError
from vdi_core.mini import pretrain
from vdi_core.mini import world as W
from vdi_core.mini.micro_models import model_cfg, stem_cfg
from vdi_core.towers.clip import load_clip
from vdi_core.towers.image import encode_frames
from vdi_core.towers.stems import ConvTrunk, check_stem, install_stem, read_stem, stem_path, stem_stride


@pytest.fixture(scope="module")
def world():
    return W.load_world()


@pytest.mark.parametrize("stages, stride", [(1, 4), (2, 8), (3, 16)])
def test_trunk_stride_is_the_patch_size_it_replaces(stages, stride):
    # stem: conv stride 2 then avgpool 2 (/4); layer1 keeps the size; every later stage halves it
    assert stem_stride({"width": 8, "stages": stages}) == stride
    trunk = ConvTrunk(out_width=64, width=8, stages=stages, image_size=64).eval()
    out = trunk(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 64, 64 // stride, 64 // stride)


def test_the_micro_vit_gets_a_trunk_and_the_linear_one_does_not():
    assert stem_cfg("vit-joint") == {"width": 8, "stages": 3}
    assert stem_cfg("vit-joint-linear") is None and stem_cfg("resnet-joint") is None
    # open_clip never sees the key: it is ours, installed after the model is built
    assert "stem" not in model_cfg("vit-joint", ["a"])
    # the same token grid either way: 64 px / 16 = 32 px / 8 = 4
    assert BACKBONES["vit-joint"].mini.patch_grid == BACKBONES["vit-joint-linear"].mini.patch_grid == (4, 4)


def test_saved_trunk_round_trips_through_load_clip(tmp_path, world):
    pieces = pretrain.world_pieces(world)
    model = pretrain.new_model("vit-joint", 0, pieces).eval()
    assert isinstance(model.visual.conv1, ConvTrunk)
    spec = pretrain._save(model, "vit-joint", pieces, tmp_path, {})
    assert json.loads(stem_path(spec.config_path).read_text()) == {"width": 8, "stages": 3}
    loaded, _, _ = load_clip(spec)
    frames = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8).numpy()
    want, want_patches = encode_frames(model, frames, patch_frames=3)
    got, got_patches = encode_frames(loaded, frames, patch_frames=3)
    assert got.shape == (3, 64) and got_patches.shape == (3, 16, 64)
    assert torch.equal(torch.from_numpy(got), torch.from_numpy(want))
    assert torch.equal(torch.from_numpy(got_patches), torch.from_numpy(want_patches))


def test_weights_without_their_stem_file_are_refused(tmp_path, world):
    pieces = pretrain.world_pieces(world)
    spec = pretrain._save(pretrain.new_model("vit-joint", 0, pieces), "vit-joint", pieces, tmp_path, {})
    stem_path(spec.config_path).unlink()
    with pytest.raises(VdiError, match="does not fit model vit-joint"):
        load_clip(spec)


@pytest.mark.parametrize("cfg, message", [
    ({"width": 8}, r"stem keys must be exactly \['stages', 'width'\] \(unknown: none, missing: \['stages'\]\)"),
    ({"width": 8, "stages": 3, "depth": 2}, r"unknown: \['depth'\]"),
    ({"width": 0, "stages": 3}, r"stem.width must be a positive integer, got 0"),
    ({"width": 8, "stages": True}, r"stem.stages must be a positive integer, got True"),
    ({"width": 8, "stages": 4}, r"stem.stages must be 1-3"),
    ([8, 3], r"the stem must be a table"),
])
def test_bad_stem_settings_are_one_line_errors(cfg, message):
    with pytest.raises(VdiError, match=message):
        check_stem(cfg, "backbones.py, vit-joint")


def test_a_trunk_must_match_the_patch_size_and_a_vit(world):
    pieces = pretrain.world_pieces(world)
    vit = pretrain.new_model("vit-joint-linear", 0, pieces)  # patch 8
    with pytest.raises(VdiError, match="stride 16 but the ViT's patch_size is 8; they must be equal"):
        install_stem(vit, {"width": 8, "stages": 3})
    rn = pretrain.new_model("resnet-joint", 0, pieces)
    with pytest.raises(VdiError, match="ModifiedResNet has none; use it only on a ViT config"):
        install_stem(rn, {"width": 8, "stages": 1})


def test_unreadable_stem_file_is_a_one_line_error(tmp_path):
    cfg = tmp_path / "m.json"
    assert read_stem(cfg) is None  # no file: a plain open_clip model
    stem_path(cfg).write_text("{not json")
    with pytest.raises(VdiError, match=r"m\.stem\.json: not a readable JSON object of stem settings .*rebuild"):
        read_stem(cfg)
    stem_path(cfg).write_text(json.dumps({"width": 8, "stages": 9}))
    with pytest.raises(VdiError, match=r"m\.stem\.json: stem.stages must be 1-3"):
        read_stem(cfg)
