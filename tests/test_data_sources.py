"""The paper profile's grounding source on a synthetic data root (tiny annotation files and
feature folders written here): what is missing, what is built, and the errors before training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vdi_core.backbones import BACKBONES
from vdi_core.data.manifest import load_manifest
from vdi_core.data.paper_grounding import clip_feature_dir
from vdi_core.errors import MissingData, VdiError
from vdi_core.features import fingerprint as fpr
from vdi_core.features.feature_sets import LazyPatches
from vdi_core.grounding.config import DataConfig
from vdi_core.sources import get_source
from vdi_core.tasks import RunContext
from vdi_core.towers.image import TRANSFORM_VERSION

DIM, PATCHES = 8, 3
TRAIN = {"TRN01": {"duration": 30.0, "timestamps": [[0.0, 6.9], [5.0, 31.0]], "sentences": ["a", "b"]},
         "TRN02": {"duration": 20.0, "timestamps": [[8.0, 7.0]], "sentences": ["inverted"]}}
EVAL = {"EVL01": {"duration": 12.0, "timestamps": [[1.0, 4.0]], "sentences": ["c"]}}


def _ctx(tmp_path, logs):
    return RunContext(profile="paper", seed=0, device="cpu", work_dir=tmp_path, cache_dir=tmp_path, log=logs.append)


def _write_root(root: Path, train=TRAIN, evaluation=EVAL, fps=3.0, durations=None):
    m = load_manifest()
    for name, data in (("charades_cg_train", train), ("charades_cg_novel_word", evaluation)):
        path = m[name].location(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))
    weights = m["clip_vit_b32_openai"].location(root)
    weights.parent.mkdir(parents=True, exist_ok=True)
    weights.write_bytes(b"stand-in: the source only checks presence; features declare the manifest hash")
    folder = clip_feature_dir(root, "charades", BACKBONES["vit-joint"], 3.0, 32)
    folder.mkdir(parents=True)
    declared = {"model": "ViT-B-32-quickgelu", "weights_sha256": m["clip_vit_b32_openai"].sha256,
                "quick_gelu": True, "fps": fps, "patch_frames": 32, "transform": TRANSFORM_VERSION}
    rng = np.random.default_rng(0)
    for vid, entry in {**train, **evaluation}.items():
        duration = (durations or {}).get(vid, entry["duration"])
        t = int(duration * fps)
        np.savez(folder / f"{vid}.npz", frames=rng.standard_normal((t, DIM), dtype=np.float32),
                 patches=rng.standard_normal((4, PATCHES, DIM), dtype=np.float32), duration=np.float64(duration))
    fpr.write(folder, declared, {})
    return folder


@pytest.fixture
def root(tmp_path, monkeypatch):
    r = tmp_path / "data"
    monkeypatch.setenv("VDI_DATA", str(r))
    return r


def test_registered_for_the_paper_profile():
    from vdi_core.data.paper_grounding import paper_grounding

    assert get_source("paper", "grounding") is paper_grounding


def test_everything_missing_lists_exact_commands(root, tmp_path):
    with pytest.raises(MissingData) as e:
        get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))
    cmds = [cmd for _, cmd in e.value.missing]
    assert cmds[:3] == ["vdi data fetch charades_cg_train", "vdi data fetch charades_cg_novel_word",
                        "vdi data fetch clip_vit_b32_openai"]
    assert cmds[3] == "vdi data fetch charades_videos_480"
    assert cmds[4] == (f"vdi features extract --videos {root}/charades/Charades_v1_480 --model ViT-B-32-quickgelu "
                       f"--pretrained {root}/weights/clip/ViT-B-32.pt --fps 3 --patch-frames 32 "
                       f"--out {root}/features/charades/ViT-B-32-quickgelu-openai-fps3-p32")
    assert len(cmds) == 5


def test_separated_backbone_needs_vgg_and_distilbert(root, tmp_path):
    with pytest.raises(MissingData) as e:
        get_source("paper", "grounding")(DataConfig(backbone="separated"), _ctx(tmp_path, []))
    text = str(e.value)
    assert "download by hand" in text and "vgg_rgb_features.hdf5" in text
    assert "vdi data fetch distilbert_weights" in text
    with pytest.raises(VdiError, match="no[ne]* for activitynet_cg/novel_word"):
        get_source("paper", "grounding")(DataConfig(backbone="separated", train_split="activitynet_cg/train",
                                                    eval_split="activitynet_cg/novel_word"), _ctx(tmp_path, []))


def test_builds_grounding_splits(root, tmp_path):
    _write_root(root)
    logs: list[str] = []
    splits = get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, logs))
    assert [v.vid for v in splits.train] == ["TRN01"] and [v.vid for v in splits.eval] == ["EVL01"]
    q = splits.train[0].queries
    assert [(x.qid, x.moment) for x in q] == [("TRN01#0", (0.0, 6.9)), ("TRN01#1", (5.0, 30.0))]
    assert splits.train[0].frames.shape == (90, DIM)
    patches = splits.train[0].patches
    assert isinstance(patches, LazyPatches)  # read from disk on use, never held (3.2 MB per real video)
    with np.load(patches.path) as z:
        np.testing.assert_array_equal(np.asarray(patches), z["patches"].astype(np.float32))
    assert np.asarray(patches).shape == (4, PATCHES, DIM) and np.asarray(patches).dtype == np.float32
    assert splits.feature_dim == DIM
    assert splits.skipped == {"charades_cg/train:start_ge_end": 1, "charades_cg/train:video_without_queries": 1}
    assert splits.text.kind == "open_clip" and splits.text.model == "ViT-B-32-quickgelu"
    assert splits.text.weights == str(root / "weights/clip/ViT-B-32.pt")
    assert any("charades_cg/train: 2 videos, 2 of 3 queries kept" in line for line in logs)
    again = get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))
    assert again.fingerprint == splits.fingerprint
    (root / "charades_cg/novel_word.json").write_text(json.dumps({"EVL01": {**EVAL["EVL01"], "sentences": ["d"]}}))
    assert get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, [])).fingerprint != splits.fingerprint


def test_declared_features_mismatch_is_an_error(root, tmp_path):
    _write_root(root, fps=2.0)  # a folder named for fps 3 holding fps-2 features
    with pytest.raises(VdiError, match=r"fps: stored 2.0, now 3.0"):
        get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))


def test_video_shorter_than_annotation(root, tmp_path):
    _write_root(root, durations={"EVL01": 9.5})  # annotated 12.0 s
    with pytest.raises(VdiError, match=r"EVL01 \(9.5 s < 12.0 s\).*re-download"):
        get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))


def test_missing_video_features(root, tmp_path):
    folder = _write_root(root)
    (folder / "EVL01.npz").unlink()
    with pytest.raises(MissingData, match=r"features of 1 videos \(e.g. EVL01\).*vdi features extract"):
        get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


@pytest.mark.parametrize("damage, message", [
    (lambda p: _truncate(p, 0.5), r"EVL01.npz: truncated or unreadable feature file \(BadZipFile"),
    (lambda p: p.write_bytes(b""), r"EVL01.npz: truncated or unreadable feature file"),
    (lambda p: p.write_bytes(b"not a zip file at all"), r"EVL01.npz: truncated or unreadable feature file"),
    (lambda p: np.savez(p, frames=np.full((36, DIM), np.nan, np.float32), duration=np.float64(12.0)),
     r"EVL01.npz: array 'frames' holds NaN/inf values \(first at index \[0, 0\]\)"),
    (lambda p: np.savez(p, frames=np.zeros((36, DIM + 1), np.float32), duration=np.float64(12.0)),
     r"EVL01.npz: array 'frames' has shape \(36, 9\), expected 2 dimensions ending in 8"),
    (lambda p: np.savez(p, frames=np.zeros((36,), np.float32), duration=np.float64(12.0)),
     r"EVL01.npz: array 'frames' has shape \(36,\), expected 2 dimensions"),
    (lambda p: np.savez(p, frames=np.zeros((36, DIM), np.int64), duration=np.float64(12.0)),
     r"EVL01.npz: array 'frames' has dtype int64, expected floating-point"),
    (lambda p: np.savez(p, frames=np.zeros((36, DIM), np.float32)), r"EVL01.npz: no array 'duration'"),
    (lambda p: np.savez(p, frames=np.zeros((36, DIM), np.float32), duration=np.float64(np.nan)),
     r"EVL01.npz: 'duration' is .*nan.*expected seconds > 0"),
])
def test_damaged_feature_files_are_one_line_naming_the_file(root, tmp_path, damage, message):
    folder = _write_root(root)
    damage(folder / "EVL01.npz")
    with pytest.raises(VdiError, match=message) as e:
        get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))
    assert "\n" not in str(e.value) and "vdi features extract" in str(e.value)


def test_truncated_patches_are_one_line_when_read(root, tmp_path):
    folder = _write_root(root)
    splits = get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))
    path = folder / "EVL01.npz"
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 200])  # the zip directory at the end is cut
    with pytest.raises(VdiError, match=r"EVL01.npz: truncated or unreadable feature file"):
        np.asarray(splits.eval[0].patches)


def test_features_of_an_older_transform_are_not_reused(root, tmp_path):
    folder = _write_root(root)
    stored = fpr.read(folder)
    fpr.write(folder, {k: v for k, v in stored["declared"].items() if k != "transform"}, {})  # before item 11
    with pytest.raises(VdiError, match=rf"transform: stored None, now {TRANSFORM_VERSION}.*delete the folder"):
        get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))


def test_shared_videos_between_train_and_eval_are_refused(root, tmp_path):
    _write_root(root, evaluation={"TRN01": EVAL["EVL01"]})
    with pytest.raises(VdiError, match="share 1 videos"):
        get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))


def test_inputs_fingerprint_is_cheap_and_tracks_inputs(root):
    from vdi_core.data.paper_grounding import inputs_fingerprint

    empty = inputs_fingerprint(DataConfig())
    assert empty["file:charades_cg_train"] == "missing" and empty["features"] == "missing"
    folder = _write_root(root)
    full = inputs_fingerprint(DataConfig())
    assert full["features"] == fpr.read(folder)["fingerprint"] and full["file:charades_cg_novel_word"] != "missing"
    assert inputs_fingerprint(DataConfig(fps=2.0))["features"] == "missing"  # another feature set


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_annotations_with_stand_in_features(shared_data, root, tmp_path):
    """Charades-CG train / novel_word from the real files (linked, not copied) with tiny stand-in
    features: the splits the grounding task gets for Tables 2-5."""
    m = load_manifest()
    names = ("charades_cg_train", "charades_cg_novel_word")
    real = {n: json.loads(m[n].location(shared_data).read_text()) for n in names}
    _write_root(root, train={}, evaluation={})  # weights + an empty feature folder
    for n in real:
        m[n].location(root).unlink()
        m[n].location(root).symlink_to(m[n].location(shared_data))
    folder = clip_feature_dir(root, "charades", BACKBONES["vit-joint"], 3.0, 32)
    frames = np.ones((4, DIM), np.float32)
    for vid, entry in {**real["charades_cg_train"], **real["charades_cg_novel_word"]}.items():
        np.savez(folder / f"{vid}.npz", frames=frames, duration=np.float64(entry["duration"]))
    out = get_source("paper", "grounding")(DataConfig(), _ctx(tmp_path, []))
    assert (len(out.train), sum(len(v.queries) for v in out.train)) == (3555, 8281)
    assert (len(out.eval), sum(len(v.queries) for v in out.eval)) == (580, 695)
    assert out.skipped == {} and out.eval[0].patches is None
    assert all(0 <= q.moment[0] < q.moment[1] <= v.duration for v in out.eval for q in v.queries)
