"""`vdi features extract --shards N --shard K`: the cut, a shard's share, and features.json written
once by a run over all videos (tiny videos, the tiny random open_clip model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _tiny_clip import tiny_spec
from _videos import write_video

from vdi_core.cli import main
from vdi_core.errors import VdiError
from vdi_core.features import fingerprint as fpr
from vdi_core.features.extract import extract_features, list_videos
from vdi_core.features.shards import check_shards, missing_videos, shard_videos


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("videos")
    write_video(d / "AAAAA.mp4", 25)  # 1.0 s at 25 fps
    write_video(d / "BBBBB.mp4", 30)
    write_video(d / "CCCCC.mp4", 20)
    return d


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return tiny_spec(tmp_path_factory.mktemp("model"))


def args_for(videos, spec, out, *extra):
    return ["features", "extract", "--videos", str(videos), "--model", spec.model, "--model-config",
            spec.config_path, "--pretrained", spec.weights, "--fps", "3", "--patch-frames", "2", "--out", str(out),
            "--no-progress", *extra]


def test_every_video_in_exactly_one_shard_round_robin_over_sorted_ids():
    ids = ["v07", "v01", "v05", "v03", "v02", "v06", "v04"]
    paths = [Path(f"/videos/{v}.mp4") for v in ids]
    shards = [[p.stem for p in shard_videos(paths, 3, k)] for k in range(3)]
    assert shards == [["v01", "v04", "v07"], ["v02", "v05"], ["v03", "v06"]]
    assert sorted(v for s in shards for v in s) == sorted(ids)  # each once, none lost
    shuffled = list(reversed(paths))  # the cut depends on the ids, not on the listing order
    assert [[p.stem for p in shard_videos(shuffled, 3, k)] for k in range(3)] == shards
    assert [p.stem for p in shard_videos(paths, 1, 0)] == sorted(ids)
    assert [len(shard_videos(paths, 9, k)) for k in range(9)] == [1] * 7 + [0, 0]  # more shards than videos


@pytest.mark.parametrize("n,k,message", [(0, None, r"--shards 0: need at least 1 shard"),
                                         (3, 3, r"--shard 3 is out of range for --shards 3: use 0\.\.2"),
                                         (2, -1, r"--shard -1 is out of range")])
def test_bad_shard_numbers(n, k, message):
    with pytest.raises(VdiError, match=message):
        check_shards(n, k)


def test_shard_extracts_only_its_share_and_the_full_run_writes_the_fingerprint(videos, spec, tmp_path, capsys):
    out = tmp_path / "f"
    assert main(args_for(videos, spec, out, "--shards", "2", "--shard", "1")) == 0
    assert sorted(p.name for p in out.glob("*.npz")) == ["BBBBB.npz"]  # sorted ids A, B, C: shard 1 is B
    assert not (out / fpr.FILENAME).exists() and (out / fpr.PENDING).is_file()
    assert "shard 1 of 2 done; 2 of 3 videos still missing" in capsys.readouterr().out
    assert main(args_for(videos, spec, out, "--shards", "2", "--shard", "0")) == 0
    assert sorted(p.name for p in out.glob("*.npz")) == ["AAAAA.npz", "BBBBB.npz", "CCCCC.npz"]
    assert "0 of 3 videos still missing; run the command without --shard" in capsys.readouterr().out
    assert not (out / fpr.FILENAME).exists()
    assert main(args_for(videos, spec, out)) == 0  # the finishing run: nothing left to extract
    assert "0 extracted, 3 already done" in capsys.readouterr().out
    assert not (out / fpr.PENDING).exists()
    whole = extract_features(list_videos(videos), tmp_path / "whole", spec, fps=3, patch_frames=2, progress=False)
    sharded = json.loads((out / fpr.FILENAME).read_text())
    assert sharded["fingerprint"] == whole.fingerprint and sorted(sharded["videos"]) == ["AAAAA", "BBBBB", "CCCCC"]
    for vid in ("AAAAA", "BBBBB", "CCCCC"):
        with np.load(out / f"{vid}.npz") as a, np.load(tmp_path / "whole" / f"{vid}.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            for name in a.files:
                np.testing.assert_array_equal(a[name], b[name])
    assert missing_videos(list_videos(videos), out) == []


def test_a_shard_with_other_settings_is_refused(videos, spec, tmp_path):
    out = tmp_path / "f"
    mine = shard_videos(list_videos(videos), 2, 0)
    extract_features(mine, out, spec, fps=3, patch_frames=2, progress=False, write_fingerprint=False)
    other = shard_videos(list_videos(videos), 2, 1)
    with pytest.raises(VdiError, match=r"other shards of this folder were extracted with other settings \(fps: "
                                       r"stored 3\.0, now 2\.0\)"):
        extract_features(other, out, spec, fps=2, patch_frames=2, progress=False, write_fingerprint=False)
    with pytest.raises(VdiError, match=r"other settings \(fps"):  # nor does the finishing run take them
        extract_features(list_videos(videos), out, spec, fps=2, patch_frames=2, progress=False)
    assert sorted(p.stem for p in out.glob("*.npz")) == [p.stem for p in mine]


def test_a_shard_leaves_another_shards_temp_file_alone(videos, spec, tmp_path):
    out = tmp_path / "f"
    out.mkdir()
    theirs, mine_stale = out / ".BBBBB.npz.x1.tmp.npz", out / ".AAAAA.npz.x2.tmp.npz"
    theirs.write_bytes(b"being written by shard 1")
    mine_stale.write_bytes(b"left by a killed shard 0")
    extract_features(shard_videos(list_videos(videos), 2, 0), out, spec, fps=3, patch_frames=2, progress=False,
                     write_fingerprint=False)
    assert theirs.is_file() and not mine_stale.exists()


@pytest.mark.parametrize("extra,message", [
    (["--shards", "0"], "--shards 0: need at least 1 shard"),
    (["--shards", "2", "--shard", "2"], "--shard 2 is out of range for --shards 2: use 0..1"),
    (["--partition", "gpu"], "--partition only apply to --executor slurm"),
    (["--executor", "slurm", "--shards", "2", "--shard", "0"], "with --executor slurm leave it out"),
])
def test_bad_flags_are_one_line(videos, spec, tmp_path, capsys, extra, message):
    assert main(args_for(videos, spec, tmp_path / "f", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "f").exists()


def test_slurm_without_sbatch_is_one_line(videos, spec, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(args_for(videos, spec, tmp_path / "f", "--executor", "slurm", "--shards", "2")) == 2
    err = capsys.readouterr().err
    assert "--executor slurm needs Slurm's sbatch and srun on PATH" in err and len(err.strip().splitlines()) == 1


def test_a_requeued_shard_job_resumes_and_the_finishing_job_waits_for_every_video(videos, spec, tmp_path):
    """The jobs of executors/features_slurm.py, called here as a Slurm node calls them."""
    from vdi_core.executors.features_slurm import ExtractJob

    paths = [str(p) for p in list_videos(videos)]
    settings = {"fps": 3, "patch_frames": 2, "batch_size": 64, "device": "cpu"}
    shard0 = ExtractJob(paths[0::2], str(tmp_path / "f"), spec, settings)
    finish = ExtractJob(paths, str(tmp_path / "f"), spec, settings, finish=True)
    assert shard0() == "2 extracted, 0 already done"
    with pytest.raises(VdiError, match=r"1 video\(s\) have no features after all shards ended \(first: BBBBB\)"):
        finish()
    assert not (tmp_path / "f" / fpr.FILENAME).exists()
    requeued = shard0.checkpoint()  # what submitit runs after a preemption or a time-out
    assert requeued.function is shard0 and requeued.function() == "0 extracted, 2 already done"
    ExtractJob(paths[1::2], str(tmp_path / "f"), spec, settings)()
    whole = extract_features(list_videos(videos), tmp_path / "whole", spec, fps=3, patch_frames=2, progress=False)
    assert finish() == whole.fingerprint == fpr.read(tmp_path / "f")["fingerprint"]
