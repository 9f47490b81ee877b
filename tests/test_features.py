"""Feature extraction end to end: tiny videos encoded here, a tiny random open_clip model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from _tiny_clip import tiny_spec
from _videos import frame_index, write_video

from vdi_core.cli import main
from vdi_core.errors import VdiError
from vdi_core.features import fingerprint as fpr
from vdi_core.features.extract import extract_features, list_videos
from vdi_core.features.feature_sets import ClipFeatureSet, VggFeatureSet
from vdi_core.features.video import decode_at_fps


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("videos")
    write_video(d / "AAAAA.mp4", 50)  # 2.0 s at 25 fps
    write_video(d / "BBBBB.mp4", 30)  # 1.2 s
    write_video(d / "CCCCC.mp4", 40)  # 1.6 s
    return d


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return tiny_spec(tmp_path_factory.mktemp("model"))


def test_decode_samples_bin_centres(videos):
    # 2.0 s at 25 fps, 3 fps -> T = 6 targets (k + 0.5) / 3 s; the frame shown at t is floor(25 t).
    d = decode_at_fps(videos / "AAAAA.mp4", 3)
    expected = [4, 12, 20, 29, 37, 45]
    assert d.frames.shape == (6, 48, 64, 3)
    assert d.duration == pytest.approx(2.0)
    np.testing.assert_allclose(d.times, np.array(expected) / 25)
    np.testing.assert_allclose(frame_index(d.frames), expected, atol=0.5)


def test_decode_at_higher_rate_than_video_holds_frames(videos):
    # 1.2 s at 25 fps sampled at 50 fps: 60 targets; target k shows frame floor((k + .5) / 2).
    d = decode_at_fps(videos / "BBBBB.mp4", 50)
    assert len(d.frames) == 60
    np.testing.assert_allclose(frame_index(d.frames), np.arange(60) // 2, atol=0.5)


def test_extract_shapes_and_fingerprint(videos, spec, tmp_path):
    report = extract_features(list_videos(videos), tmp_path / "f", spec, fps=3, patch_frames=4, progress=False)
    assert report.extracted == ["AAAAA", "BBBBB", "CCCCC"] and report.frames == 6 + 3 + 4
    with np.load(tmp_path / "f" / "AAAAA.npz") as z:
        # tiny ViT: embed_dim 32, 32x32 input with 16x16 patches -> 4 patches
        assert z["frames"].shape == (6, 32) and z["patches"].shape == (4, 4, 32)
        assert float(z["duration"]) == pytest.approx(2.0)
    with np.load(tmp_path / "f" / "BBBBB.npz") as z:
        assert z["frames"].shape == (3, 32) and z["patches"].shape == (3, 4, 32)  # fewer frames than 4
    stored = json.loads((tmp_path / "f" / "features.json").read_text())
    assert stored["declared"]["fps"] == 3.0 and stored["declared"]["quick_gelu"] is False
    assert stored["declared"]["weights_sha256"] == fpr.file_sha256(Path(spec.weights))
    assert stored["videos"]["CCCCC"]["frames"] == 4
    fs = ClipFeatureSet(tmp_path / "f", expect={"fps": 3.0, "patch_frames": 4})
    assert fs.fingerprint == report.fingerprint and fs.missing(["AAAAA", "ZZZZZ"]) == ["ZZZZZ"]


def test_same_inputs_same_arrays(videos, spec, tmp_path):
    a = extract_features(list_videos(videos), tmp_path / "a", spec, fps=3, patch_frames=4, progress=False)
    b = extract_features(list_videos(videos), tmp_path / "b", spec, fps=3, patch_frames=4, progress=False)
    assert a.fingerprint == b.fingerprint


def test_fingerprint_changes_with_fps_and_weights(videos, spec, tmp_path):
    import torch

    base = extract_features(list_videos(videos), tmp_path / "a", spec, fps=3, patch_frames=4, progress=False)
    other_fps = extract_features(list_videos(videos), tmp_path / "b", spec, fps=2, patch_frames=4, progress=False)
    state = torch.load(spec.weights)
    state["visual.proj"] = state["visual.proj"] * 2
    torch.save(state, tmp_path / "w2.pt")
    spec2 = type(spec)(spec.kind, spec.model, spec.config_path, str(tmp_path / "w2.pt"))
    other_w = extract_features(list_videos(videos), tmp_path / "c", spec2, fps=3, patch_frames=4, progress=False)
    assert len({base.fingerprint, other_fps.fingerprint, other_w.fingerprint}) == 3
    # Re-running into a folder made with other settings is an error, and writes nothing.
    before = sorted(os.listdir(tmp_path / "a"))
    with pytest.raises(VdiError, match=r"fps: stored 3.0, now 2.0"):
        extract_features(list_videos(videos), tmp_path / "a", spec, fps=2, patch_frames=4, progress=False)
    with pytest.raises(VdiError, match="weights_sha256"):
        extract_features(list_videos(videos), tmp_path / "a", spec2, fps=3, patch_frames=4, progress=False)
    assert sorted(os.listdir(tmp_path / "a")) == before
    with pytest.raises(VdiError, match="do not match the run's declared features"):
        ClipFeatureSet(tmp_path / "a", expect={"fps": 2.0})


def test_resume_after_kill(videos, spec, tmp_path, monkeypatch):
    import vdi_core.towers.image as image

    real, calls = image.encode_frames, []

    def dying(model, frames, **kw):
        calls.append(len(frames))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is killed while encoding the second video
        return real(model, frames, **kw)

    monkeypatch.setattr(image, "encode_frames", dying)
    out = tmp_path / "f"
    with pytest.raises(KeyboardInterrupt):
        extract_features(list_videos(videos), out, spec, fps=3, patch_frames=4, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["AAAAA.npz", "features.json"]
    assert list(json.loads((out / "features.json").read_text())["videos"]) == ["AAAAA"]
    (out / ".BBBBB.npz.999.tmp.npz").write_bytes(b"half a file")  # a kill mid-write (io.atomic_path's name)

    monkeypatch.setattr(image, "encode_frames", lambda m, f, **kw: (calls.append(len(f)), real(m, f, **kw))[1])
    calls.clear()
    report = extract_features(list_videos(videos), out, spec, fps=3, patch_frames=4, progress=False)
    assert report.resumed == ["AAAAA"] and report.extracted == ["BBBBB", "CCCCC"] and calls == [3, 4]
    assert not list(out.glob(".*tmp*"))
    fresh = extract_features(list_videos(videos), tmp_path / "g", spec, fps=3, patch_frames=4, progress=False)
    assert report.fingerprint == fresh.fingerprint  # resumed == uninterrupted


def test_corrupt_and_truncated_videos(videos, spec, tmp_path):
    bad = tmp_path / "v"
    bad.mkdir()
    (bad / "AAAAA.mp4").write_bytes((videos / "AAAAA.mp4").read_bytes())
    data = (videos / "CCCCC.mp4").read_bytes()
    (bad / "TRUNC.mp4").write_bytes(data[: len(data) // 2])
    (bad / "JUNK1.mp4").write_bytes(os.urandom(4000))
    with pytest.raises(VdiError) as e:
        extract_features(list_videos(bad), tmp_path / "f", spec, fps=3, patch_frames=4, progress=False)
    msg = str(e.value)
    assert "2 of 3 videos could not be decoded" in msg and "JUNK1" in msg and "TRUNC" in msg and "re-download" in msg
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["AAAAA.npz", "features.json"]


def test_missing_weights_file(videos, spec, tmp_path):
    gone = type(spec)(spec.kind, spec.model, spec.config_path, str(tmp_path / "nope.pt"))
    with pytest.raises(VdiError, match=r"weights file .*nope.pt not found; .*vdi data fetch clip_weights"):
        extract_features(list_videos(videos), tmp_path / "f", gone, fps=3, patch_frames=4, progress=False)
    assert not (tmp_path / "f").exists()


def test_cli_extract(videos, spec, tmp_path, capsys):
    args = ["features", "extract", "--videos", str(videos), "--model", spec.model, "--model-config", spec.config_path,
            "--pretrained", spec.weights, "--fps", "3", "--patch-frames", "2", "--out", str(tmp_path / "f"),
            "--no-progress"]
    assert main(args) == 0
    assert "3 extracted, 0 already done" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 extracted, 3 already done" in capsys.readouterr().out
    assert main(["features", "extract", "--videos", str(tmp_path / "none"), "--pretrained", "openai",
                 "--model", "ViT-B-32", "--out", str(tmp_path / "g")]) == 2
    assert "QuickGELU: use ViT-B-32-quickgelu" in capsys.readouterr().err


def test_vgg_hdf5_reader(tmp_path):
    import h5py

    with h5py.File(tmp_path / "vgg.hdf5", "w") as f:
        f["AAAAA"] = np.arange(12, dtype=np.float32).reshape(3, 4)
        f["BBBBB"] = np.zeros(5, dtype=np.float32)  # wrong rank
        f["NANNN"] = np.array([[0.0, np.nan]], dtype=np.float32)
        f["INTSS"] = np.zeros((2, 4), dtype=np.int32)
    fs = VggFeatureSet(tmp_path / "vgg.hdf5")
    got = fs.load("AAAAA", 30.0)
    np.testing.assert_array_equal(got.frames, np.arange(12).reshape(3, 4))
    assert got.patches is None and got.duration == 30.0 and fs.missing(["AAAAA", "CCCCC"]) == ["CCCCC"]
    with pytest.raises(VdiError, match="shape"):
        fs.load("BBBBB", 1.0)
    with pytest.raises(VdiError, match=r"vgg.hdf5: array 'NANNN' holds NaN/inf values \(first at index \[0, 1\]\)"):
        fs.load("NANNN", 1.0)
    with pytest.raises(VdiError, match=r"vgg.hdf5: array 'INTSS' has dtype int32, expected floating-point"):
        fs.load("INTSS", 1.0)
    with pytest.raises(VdiError, match="no features for video CCCCC"):
        fs.load("CCCCC", 1.0)
    fs.close()
    (tmp_path / "bad.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(VdiError, match="not a readable HDF5"):
        VggFeatureSet(tmp_path / "bad.hdf5")


# --- reading stacked feature files (issue 10: truncated .npz, fewer videos than expected) ------

def test_load_npz_and_check_video_count_are_one_line(tmp_path):
    from vdi_core.features.feature_sets import check_video_count, load_npz

    path = tmp_path / "train.npz"
    np.savez(path, **{"global": np.zeros((3, 4, 2), np.float16)})
    assert load_npz(path, ["global"], "rebuild it")["global"].shape == (3, 4, 2)
    with pytest.raises(VdiError, match=r"train.npz: no array 'patches' \(has global\); rebuild it"):
        load_npz(path, ["patches"], "rebuild it")
    check_video_count(3, ["a", "b", "c"], path, "rebuild it")
    with pytest.raises(VdiError, match=r"features of 3 videos for 5 videos; missing 2 \(d, e\); rebuild it"):
        check_video_count(3, ["a", "b", "c", "d", "e"], path, "rebuild it")
    with pytest.raises(VdiError, match=r"features of 3 videos for 2 videos; the file belongs to another"):
        check_video_count(3, ["a", "b"], path, "rebuild it")
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        path.write_bytes(data[:cut])
        with pytest.raises(VdiError, match=r"train.npz: truncated or unreadable feature file .*; rebuild it"):
            load_npz(path, ["global"], "rebuild it")
    with pytest.raises(VdiError, match=r"missing.npz not found; rebuild it"):
        load_npz(tmp_path / "missing.npz", ["global"], "rebuild it")


def test_resume_over_a_damaged_npz_or_fingerprint_is_one_line(videos, spec, tmp_path):
    from vdi_core.towers.image import TRANSFORM_VERSION

    out = tmp_path / "f"
    extract_features(list_videos(videos), out, spec, fps=3, patch_frames=4, progress=False)
    stored = fpr.read(out)
    assert stored["declared"]["transform"] == TRANSFORM_VERSION
    fpr.write(out, stored["declared"], {})  # as if killed before the fingerprint flush
    data = (out / "BBBBB.npz").read_bytes()
    (out / "BBBBB.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(VdiError, match=r"BBBBB.npz: truncated or unreadable feature file.*delete it and rerun"):
        extract_features(list_videos(videos), out, spec, fps=3, patch_frames=4, progress=False)
    for text in ("[1, 2]", '{"format": 1, "declared": "x"}', "\xff\xfe"):
        (out / "features.json").write_text(text, encoding="latin-1")
        with pytest.raises(VdiError, match=r"features.json: (not a feature fingerprint|unreadable fingerprint)"):
            fpr.read(out)
