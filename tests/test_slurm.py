"""`vdi run --executor slurm` against a real single-node Slurm (tests/slurm_cluster.py).

Each test drives the CLI as a user would, in a subprocess, with the toy tasks (tests/toytask.py)
so that a run takes a second: the jobs are real sbatch array tasks unpickled on the node."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slurm_cluster import slurm_cluster  # noqa: F401 - the session fixture
from toytask import write_spec

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[1]
CLI = "import sys, toytask; from vdi_core.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def env(tmp_path, slurm_cluster):  # noqa: F811
    (tmp_path / "experiments").mkdir()
    return slurm_cluster.client_env(
        VDI_RESULTS=tmp_path / "results", VDI_CACHE=tmp_path / "cache", VDI_EXPERIMENTS=tmp_path / "experiments",
        VDI_TABLES=tmp_path / "tables", PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}", HF_HUB_OFFLINE=1,
        PYTHONUNBUFFERED=1)


def vdi(env, *args, timeout=180):
    return subprocess.run([sys.executable, "-c", CLI, *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def spec(env, id, task, extra="", high="a = 2.0", seeds=1):
    path = write_spec(env["VDI_EXPERIMENTS"], id=id, seeds=seeds, extra=extra)
    path.write_text(path.read_text().replace('task = "toy"', f'task = "{task}"')
                    .replace("overrides = { a = 2.0 }", f"overrides = {{ {high} }}"))


def results(root) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in (Path(root) / "mini").glob("*.json")}


def wait_for(what, ok, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = ok()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_a_table_on_slurm_is_bit_identical_to_local(env):
    """(a) Shared inputs go in as earlier jobs the array depends on; the stored numbers equal a
    local run's bit for bit."""
    spec(env, "toya", "toy_built", high="a = 2.0, b = 3")
    r = vdi(env, "run", "toya", "--executor", "slurm", "--wait", "--wait-timeout", "150")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 submitted" in r.stdout and "2/2 done" in r.stdout  # plain progress lines off a TTY
    cache = Path(env["VDI_CACHE"])
    assert (cache / "built-b2").read_text() == "1" and (cache / "built-b3").read_text() == "1"
    slurm = results(env["VDI_RESULTS"])
    jobs = [json.loads(p.read_text()) for p in (Path(env["VDI_RESULTS"]) / "mini" / "jobs").glob("*.json")]
    assert len(jobs) == 2 and all(len(j["depends_on"]) == 2 and Path(j["stdout"]).is_file() for j in jobs)
    local_env = {**env, "VDI_RESULTS": env["VDI_RESULTS"] + "-local", "VDI_CACHE": env["VDI_CACHE"] + "-local"}
    assert vdi(local_env, "run", "toya", "--jobs", "1").returncode == 0
    local = results(local_env["VDI_RESULTS"])
    assert set(local) == set(slurm) and len(local) == 2
    for key in local:
        assert json.dumps(slurm[key]["metrics"]) == json.dumps(local[key]["metrics"])
        assert slurm[key]["curves"] == local[key]["curves"]
    assert sorted(r["metrics"]["score"] for r in local.values()) == [12.0, 23.0]
    again = vdi(env, "run", "toya", "--executor", "slurm")
    assert "0 submitted" in again.stdout and "2 cached" in again.stdout


def test_b_scancel_then_rerun_resumes_from_the_epoch_checkpoint(env):
    spec(env, "toyb", "toy_epochs", extra="\n[base]\nepochs = 6\nsleep_s = 1.5\n")
    r = vdi(env, "run", "toyb", "--rows", "high", "--executor", "slurm")
    assert r.returncode == 0 and "1 submitted" in r.stdout, r.stdout + r.stderr
    store = Path(env["VDI_RESULTS"]) / "mini"
    (job_file,) = (store / "jobs").glob("*.json")
    key, job = job_file.stem, json.loads(job_file.read_text())
    ckpt = store / "work" / key / "ckpt.json"
    wait_for("two epochs", lambda: ckpt.exists() and json.loads(ckpt.read_text())["epoch"] >= 2, 90)
    subprocess.run(["scancel", job["job_id"]], env=env, check=True, timeout=30)
    status = wait_for("the cancelled job", lambda: (s := vdi(env, "status", "toyb")).returncode == 1 and s, 60)
    assert "CANCELLED" in status.stdout and f"job {job['job_id']}" in status.stdout
    r = vdi(env, "run", "toyb", "--rows", "high", "--executor", "slurm", "--wait", "--wait-timeout", "150")
    assert r.returncode == 0 and "1 submitted" in r.stdout, r.stdout + r.stderr
    rec = results(env["VDI_RESULTS"])[key]
    assert rec["metrics"]["score"] == 2.0 * (1 + 2 + 3 + 4 + 5 + 6)  # the same number as an unbroken run
    starts = (Path(env["VDI_CACHE"]) / "starts.log").read_text().split("\n")
    resumed = [int(line.split()[-1]) for line in starts if line.startswith(key)]
    assert resumed[0] == 0 and len(resumed) == 2 and resumed[1] >= 2 and rec["extra"]["resumed_from"] == resumed[1]


def test_c_two_concurrent_submissions_run_each_shared_key_once(env):
    for t in ("toyc1", "toyc2"):  # the same two rows: every key is shared
        spec(env, t, "toy_epochs", extra="\n[base]\nepochs = 2\nsleep_s = 0.5\n")
    procs = [subprocess.Popen([sys.executable, "-c", CLI, "run", t, "--executor", "slurm", "--wait",
                               "--wait-timeout", "150"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for t in ("toyc1", "toyc2")]
    outs = [p.communicate(timeout=200) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    submitted = sum(int(out.split(" submitted")[0].split()[-1]) for out, _ in outs)
    assert submitted == 2
    starts = (Path(env["VDI_CACHE"]) / "starts.log").read_text().split()
    recs = results(env["VDI_RESULTS"])
    assert sorted(r["metrics"]["score"] for r in recs.values()) == [3.0, 6.0]
    assert sorted(starts[0::3]) == sorted(recs)  # one start per key
    assert not list(Path(env["VDI_RESULTS"]).rglob("*.tmp"))


def test_d_a_job_that_raises_is_reported_by_status(env):
    spec(env, "toyd", "toy", high='a = 2.0, "knobs.mode" = "boom"')
    r = vdi(env, "run", "toyd", "--executor", "slurm", "--wait", "--wait-timeout", "150")
    assert r.returncode == 1
    assert "failed: toyd:high seed 0: failed (job " in r.stderr and "RuntimeError: unexpected crash" in r.stderr
    s = vdi(env, "status", "toyd")
    assert s.returncode == 1, s.stdout + s.stderr
    lines = s.stdout.splitlines()
    assert lines[0].startswith("toyd (mini): 1/2 done; 1 done, 1 failed")
    (high,) = [ln for ln in lines if ln.strip().startswith("high")]
    assert "failed job " in high and high.endswith("RunFailed: toyd:high seed 0: RuntimeError: unexpected crash")
    log = Path(next(ln for ln in lines if "log:" in ln).split("log: ")[1])
    assert log.is_file() and "unexpected crash" in log.read_text()
    assert any(ln.startswith("    | ") and "unexpected crash" in ln for ln in lines)  # the stderr tail


def test_e_a_preempted_job_is_requeued_and_resumes(env, slurm_cluster):  # noqa: F811
    """Slurm's preemption / time-limit signal (USR2, what submitit listens for): the job checkpoints
    through RunJob.checkpoint, is requeued under the same job id and resumes from its epoch."""
    spec(env, "toye", "toy_epochs", extra="\n[base]\nepochs = 6\nsleep_s = 1.5\n")
    r = vdi(env, "run", "toye", "--rows", "high", "--executor", "slurm")
    assert r.returncode == 0, r.stdout + r.stderr
    store = Path(env["VDI_RESULTS"]) / "mini"
    (job_file,) = (store / "jobs").glob("*.json")
    key, job = job_file.stem, json.loads(job_file.read_text())
    ckpt = store / "work" / key / "ckpt.json"
    wait_for("two epochs", lambda: ckpt.exists() and json.loads(ckpt.read_text())["epoch"] >= 2, 90)
    subprocess.run(["scancel", "--signal", "USR2", job["job_id"]], env=env, check=True, timeout=30)
    wait_for("the requeue", lambda: f"{job['job_id']}|PENDING" in slurm_cluster.squeue(), 60)
    assert " queued" in vdi(env, "status", "toye").stdout
    # Slurm holds a requeued job for two minutes (BeginTime); release it now.
    subprocess.run(["scontrol", "update", f"JobId={job['job_id']}", "StartTime=now"], env=env, check=True, timeout=30)
    wait_for("the requeued run's result", lambda: (store / f"{key}.json").exists(), 120)
    rec = json.loads((store / f"{key}.json").read_text())
    assert rec["metrics"]["score"] == 2.0 * 21
    starts = [int(ln.split()[-1]) for ln in (Path(env["VDI_CACHE"]) / "starts.log").read_text().splitlines()]
    assert starts[0] == 0 and len(starts) == 2 and starts[1] >= 2 and rec["extra"]["resumed_from"] == starts[1]
    assert json.loads(job_file.read_text())["job_id"] == job["job_id"]  # requeued, not resubmitted
