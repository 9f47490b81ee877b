"""The mini cache: built once, reused, rebuilt on a config change; `vdi cache`; the sources."""

import copy
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vdi_core.cli import main as vdi
from vdi_core.datatypes import GroundingSplits, ProbeData, SentenceSets
from vdi_core.mini import build as build_mod
from vdi_core.mini import loaders as sources
from vdi_core.mini import micro_models, pretrain
from vdi_core.mini import world as W
from vdi_core.tasks import RunContext

TINY_PRETRAIN = micro_models.PretrainConfig(
    steps={"vit-joint": 2, "resnet-joint": 2, "separated-image": 2, "separated-text": 2}, batch_size=16)


def tiny_world(**render):
    w = copy.deepcopy(W.load_world())
    w["splits"].update(train=4, test=3, novel_word=3, novel_composition=3)
    w["pretrain_frames"].update(count=64, held_out=8)
    w["render"].update(render)
    return w


def tiny_build(cache_dir, world=None):
    return build_mod.MiniBuild(cache_dir, world or tiny_world(), TINY_PRETRAIN, log=lambda s: None)


@dataclass
class _Data:
    backbone: str = "vit-joint"
    train_split: str = "charades_cg/train"
    eval_split: str = "charades_cg/novel_word"
    patch_frames: int = 4


def test_features_built_then_reused(tmp_path, monkeypatch):
    first = tiny_build(tmp_path)
    f = first.features("vit-joint", "train", 4)
    assert f["global"].shape == (4, 64, 64) and f["global"].dtype == np.float16
    assert f["patches"].shape == (4, 4, 16, 64)  # 4 sampled frames x 4x4 patches
    path = first.features_path("vit-joint", "train", 4)
    stamp = path.stat().st_mtime_ns

    def no_training(*a, **k):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(pretrain, "train_clip", no_training)
    again = tiny_build(tmp_path).features("vit-joint", "train", 4)
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again["global"], f["global"])
    assert not list(path.parent.glob("*.tmp*")), "no temporary file may stay behind"


def test_config_change_rebuilds_elsewhere(tmp_path):
    a, b = tiny_build(tmp_path), tiny_build(tmp_path, tiny_world(noise=5.0))
    assert a.key != b.key and a.root != b.root
    assert tiny_build(tmp_path).key == a.key  # same config, same key (independent of dict order)
    reordered = dict(reversed(list(tiny_world().items())))
    assert tiny_build(tmp_path, reordered).key == a.key


def test_video_change_keeps_the_models(tmp_path):
    a = tiny_build(tmp_path)
    w = tiny_world()
    w["video"]["landmark_in_query"] = 0.9
    b = tiny_build(tmp_path, w)
    assert a.key != b.key and a.model_key == b.model_key
    assert tiny_build(tmp_path, tiny_world(noise=5.0)).model_key != a.model_key


def test_architecture_change_moves_the_model_key(tmp_path, monkeypatch):
    # a cached model is rebuilt from its cached config: an edited architecture (here the ViT's head
    # width, which keeps every weight's shape) must move the key, else the edit is silently ignored
    a = tiny_build(tmp_path)
    vit = copy.deepcopy(micro_models.MODEL_CFGS["vit-joint"])
    vit["vision_cfg"]["head_width"] = 16
    monkeypatch.setitem(micro_models.MODEL_CFGS, "vit-joint", vit)
    b = tiny_build(tmp_path)
    assert b.model_key != a.model_key and b.key != a.key
    assert b.model_fingerprint("vit-joint") != a.model_fingerprint("vit-joint")
    monkeypatch.undo()
    assert tiny_build(tmp_path).model_key == a.model_key
    monkeypatch.setitem(micro_models.TEXT_CFG, "layers", 3)
    assert tiny_build(tmp_path).model_key != a.model_key
    monkeypatch.undo()
    monkeypatch.setitem(micro_models.BERT_CFG, "n_layers", 3)
    assert tiny_build(tmp_path).model_key != a.model_key


def test_world_does_not_depend_on_the_run_seed(tmp_path):
    # the key has no run seed in it: runs with seeds 0, 1, 2 share one world
    assert "seed" not in repr(TINY_PRETRAIN)
    assert tiny_build(tmp_path).config["world"]["seed"] == W.load_world()["seed"]


def test_separated_backbone_has_no_patches_and_an_hf_text_tower(tmp_path):
    b = tiny_build(tmp_path)
    f = b.features("separated", "test", 4)
    assert "patches" not in f and f["global"].shape == (3, 64, 64)
    spec = b.text_spec("separated")
    assert spec.kind == "hf" and (Path(spec.model) / "tokenizer.json").exists()
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(spec.model)
    ids = tok("the red circle moves left near the green box")["input_ids"]
    assert tok.unk_token_id not in ids
    out = AutoModel.from_pretrained(spec.model)(input_ids=__import__("torch").tensor([ids]))
    assert out.last_hidden_state.shape == (1, len(ids), 64)


def test_sources_build_the_interfaces(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MiniBuild", functools.partial(build_mod.MiniBuild, world=tiny_world(),
                                                                pretrain=TINY_PRETRAIN))
    ctx = RunContext("mini", 0, "cpu", tmp_path / "work", tmp_path / "cache", log=lambda s: None)
    splits = sources.grounding(_Data(), ctx)
    assert isinstance(splits, GroundingSplits) and splits.feature_dim == 64
    assert len(splits.train) == 4 and len(splits.eval) == 3
    v = splits.eval[0]
    assert v.frames.dtype == np.float32 and v.frames.shape == (64, 64) and v.patches.shape == (4, 16, 64)
    assert v.duration == 16.0
    for q in v.queries:
        assert 0 <= q.moment[0] < q.moment[1] <= v.duration
    assert splits.text.kind == "open_clip" and splits.text.model == "vit-joint"
    probe = sources.svo_triplets(type("D", (), {"backbone": "vit-joint", "count": 6})(), ctx)
    assert isinstance(probe, ProbeData) and [t.neg_type for t in probe.triplets[:3]] == ["subject", "verb", "object"]
    sents = sources.sentences(_Data(), ctx)
    assert isinstance(sents, SentenceSets) and set(sents.sets) == {"toy_queries", "toy_captions"}


def test_vdi_cache_info_and_clear(tmp_path, capsys, monkeypatch):
    import vdi_core.commands.cache as cache_cmd

    tiny = tiny_build(tmp_path)
    tiny.features("vit-joint", "test", 0)
    monkeypatch.setattr(cache_cmd, "_current_keys", lambda: {tiny.key, f"models-{tiny.model_key}"})
    stale = tmp_path / "mini" / "0123456789abcdef"
    stale.mkdir()
    (stale / "x.bin").write_bytes(b"0" * 1024)
    assert vdi(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "0123456789abcdef" in out and "stale" in out and "features vit-joint test" in out
    assert vdi(["cache", "clear", "--stale", "--cache-dir", str(tmp_path)]) == 0
    assert not stale.exists() and len(list((tmp_path / "mini").iterdir())) == 2  # features + models
    assert vdi(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert not list((tmp_path / "mini").iterdir())


def test_scripts_are_cached_and_round_trip_exactly(tmp_path):
    first = tiny_build(tmp_path).splits()
    path = tiny_build(tmp_path).root / "scripts.json"
    assert path.exists()
    again = tiny_build(tmp_path).splits()  # read back from scripts.json
    assert again == first
    seed = tiny_world()["seed"]
    assert again["novel_word"] == W.generate_split(tiny_world(), "novel_word", seed)
    assert isinstance(again["train"][0].xy[0], tuple) and isinstance(again["train"][0].queries[0], tuple)


def test_damaged_feature_cache_is_one_line(tmp_path):
    """A truncated cache file, or one holding fewer videos than the split, names the file and the fix
    (before: BadZipFile / IndexError tracebacks)."""
    import pytest

    from vdi_core.errors import VdiError

    build = tiny_build(tmp_path)
    f = build.features("vit-joint", "train", 4)
    path = build.features_path("vit-joint", "train", 4)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(VdiError, match="delete .*train.npz and run again"):
        build.features("vit-joint", "train", 4)
    np.savez(path, **{k: v[:2] for k, v in f.items()})  # 2 of the split's 4 videos
    with pytest.raises(VdiError, match=r"features of 2 videos for 4 videos; missing 2"):
        sources.videos(build, "vit-joint", "train", 4)
