"""`vdi features extract --executor slurm --shards 2` against the real single-node Slurm of
tests/slurm_cluster.py: tiny videos, the tiny random open_clip model."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_clip import tiny_spec
from _videos import write_video

from vdi_core.features import fingerprint as fpr
from vdi_core.features.extract import extract_features, list_videos

from slurm_cluster import slurm_cluster  # noqa: F401 - the session fixture

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[1]
CLI = "import sys; from vdi_core.cli import main; sys.exit(main(sys.argv[1:]))"
VIDS = ("AAAAA", "BBBBB", "CCCCC")


def test_two_shards_on_slurm_equal_a_local_extraction(tmp_path, slurm_cluster):  # noqa: F811
    env = slurm_cluster.client_env(PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}", HF_HUB_OFFLINE=1,
                                   PYTHONUNBUFFERED=1)
    for vid, n in zip(VIDS, (25, 30, 20)):
        write_video(tmp_path / "videos" / f"{vid}.mp4", n)
    spec = tiny_spec(tmp_path / "model")
    out = tmp_path / "slurm"
    cmd = [sys.executable, "-c", CLI, "features", "extract", "--videos", str(tmp_path / "videos"), "--model",
           spec.model, "--model-config", spec.config_path, "--pretrained", spec.weights, "--fps", "3",
           "--patch-frames", "2", "--out", str(out), "--executor", "slurm", "--shards", "2", "--wait",
           "--wait-timeout", "150"]

    def vdi():
        return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=200)

    r = vdi()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 of 2 shard(s) submitted as job array" in r.stdout and "features.json written for 3 videos" in r.stdout
    extract_features(list_videos(tmp_path / "videos"), tmp_path / "local", spec, fps=3, patch_frames=2,
                     progress=False)

    def same_as_local():
        # A Slurm job's process may run torch's CPU kernels with another thread count than this one,
        # which changes float summation order (measured: up to 4.8e-7 on values ~2): equal to float
        # precision, not bit for bit. (Mini runs pin one thread and are bit-identical.)
        for vid in VIDS:
            with np.load(out / f"{vid}.npz") as a, np.load(tmp_path / "local" / f"{vid}.npz") as b:
                assert sorted(a.files) == sorted(b.files)
                for name in a.files:
                    np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)
        return json.loads((out / fpr.FILENAME).read_text())["fingerprint"]

    written = same_as_local()
    record = json.loads((out / ".vdi-slurm" / "jobs.json").read_text())
    assert sorted(record["shards"]) == ["0", "1"] and not (out / fpr.PENDING).exists()

    def result(job_id):
        with open(out / ".vdi-slurm" / job_id / f"{job_id}_0_result.pkl", "rb") as f:
            return pickle.load(f)

    # features.json is written once, by the finishing job: the shards computed no fingerprint.
    assert sorted(result(j) for j in record["shards"].values()) == [
        ("success", "1 extracted, 0 already done"), ("success", "2 extracted, 0 already done")]
    assert result(record["finish"]) == ("success", written)  # the fingerprint of what the shards wrote

    again = vdi()
    assert again.returncode == 0 and "nothing to submit: all 3 videos extracted" in again.stdout, again.stdout

    (out / "CCCCC.npz").unlink()  # sorted ids A, B, C: C is in shard 0 with A
    r = vdi()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 of 2 shard(s) submitted" in r.stdout
    rerun = json.loads((out / ".vdi-slurm" / "jobs.json").read_text())
    assert rerun["shards"]["1"] == record["shards"]["1"] and rerun["shards"]["0"] != record["shards"]["0"]
    assert result(rerun["shards"]["0"]) == ("success", "1 extracted, 1 already done")
    same_as_local()
