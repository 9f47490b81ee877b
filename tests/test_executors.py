"""Executors without a cluster: GPU slot scheduling, Slurm options, `vdi status` on local runs,
the plan progress line. (Against a real Slurm: tests/test_slurm.py.)"""

import io
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vdi_core.cli import main
from vdi_core.errors import VdiError
from vdi_core.executors.slurm import SlurmOptions, load_options, make_executor, sbatch_parameters
from vdi_core.gpu_slots import device_slots, dispatch_pinned, parse_gpus
from vdi_core.jobs import RunState, run_states
from vdi_core.locks import key_lock
from vdi_core.progress import PlanDisplay, eta_seconds, summary
from vdi_core.runner import execute, load_results, plan
from vdi_core.spec import load_spec

import toytask
from toytask import write_spec

REPO = Path(__file__).resolve().parents[1]


# --- one node, many GPUs ----------------------------------------------------------------------

def test_device_slots_interleave_gpus_and_parse_errors():
    assert device_slots([0, 1], 1) == ["cuda:0", "cuda:1"]
    assert device_slots([2, 5], 2) == ["cuda:2", "cuda:5", "cuda:2", "cuda:5"]
    assert parse_gpus("0,1,3") == [0, 1, 3]
    for bad in ("0,a", "", "1,1", "-1"):
        with pytest.raises(VdiError, match="--gpus"):
            parse_gpus(bad)
    with pytest.raises(VdiError, match="--runs-per-gpu must be at least 1"):
        device_slots([0], 0)


@pytest.mark.parametrize("runs_per_gpu", [1, 2])
def test_dispatch_never_puts_more_than_k_runs_on_a_gpu(runs_per_gpu):
    """Seven runs on GPUs 0 and 1: at any moment at most K run on each, and every slot is used."""
    slots = device_slots([0, 1], runs_per_gpu)
    active, peak, seen, lock = {}, {}, [], threading.Lock()

    def fake_run(item, device):
        with lock:
            active[device] = active.get(device, 0) + 1
            peak[device] = max(peak.get(device, 0), active[device])
        time.sleep(0.05)
        with lock:
            active[device] -= 1
        return f"{item}@{device}"

    with ThreadPoolExecutor(max_workers=len(slots)) as pool:
        for item, device, result in dispatch_pinned(pool, range(7), slots, lambda i, d: (fake_run, i, d)):
            assert result == f"{item}@{device}"
            seen.append(item)
    assert sorted(seen) == list(range(7))
    assert peak == {"cuda:0": runs_per_gpu, "cuda:1": runs_per_gpu}


def test_execute_with_gpus_pins_each_run_to_a_slot_device(tmp_path, isolated_store):
    """End to end through the spawned pool: each stored record says the device its slot gave it
    (the toy task needs no GPU; provenance names the device string)."""
    planned = plan(load_spec(write_spec(tmp_path, seeds=2)), "mini", device="cuda")
    out = execute(planned, log=lambda s: None, devices=["cuda:0", "cuda:1"])
    assert len(out.ran) == 4 and not out.failed
    devices = [r["provenance"]["device"] for r in load_results(planned).values()]
    assert set(devices) <= {"cuda:0", "cuda:1"} and len(devices) == 4


# --- Slurm options ----------------------------------------------------------------------------

def test_slurm_options_from_config_then_flags(tmp_path, monkeypatch):
    import shutil

    # the sbatch text needs no cluster, but submitit's executor wants srun on PATH
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    cfg = tmp_path / "config.toml"
    cfg.write_text('[executor.slurm]\npartition = "gpu"\ngpus_per_run = 1\nmem_gb = 16\ntime_min = 90\n'
                   'extra_sbatch = ["--constraint=a100", "#SBATCH --exclusive"]\n')
    opts = load_options(cfg, {"partition": "long", "qos": None})
    assert opts == SlurmOptions(partition="long", gpus_per_run=1, mem_gb=16.0, time_min=90,
                                extra_sbatch=("--constraint=a100", "#SBATCH --exclusive"))
    text = make_executor(tmp_path / "logs", opts)._make_submission_file_text("python job.py", "uid")
    for line in ("#SBATCH --partition=long", "#SBATCH --gpus-per-node=1", "#SBATCH --mem=16384MB",
                 "#SBATCH --time=90", "#SBATCH --constraint=a100", "#SBATCH --exclusive"):
        assert line in text
    assert sbatch_parameters(("--gres gpu:2",)) == {"gres": "gpu:2"}


@pytest.mark.parametrize("body, message", [
    ('[executor.slurm]\npartiton = "gpu"\n', r"unknown Slurm option 'partiton' \(did you mean 'partition'\?\)"),
    ('[executor.slurn]\n', r"unknown table \[executor.slurn\] \(did you mean 'slurm'\?\)"),
    ('[executor.slurm]\ngpus_per_run = "two"\n', "'gpus_per_run' must be a whole number"),
    ('[executor.slurm]\nextra_sbatch = ["constraint=a100"]\n', "write it as"),
    ('[executor.slurm\n', "invalid TOML"),
])
def test_bad_slurm_config_is_one_line(tmp_path, body, message):
    cfg = tmp_path / "config.toml"
    cfg.write_text(body)
    with pytest.raises(VdiError, match=message):
        opts = load_options(cfg, {})
        make_executor(tmp_path, opts)


def test_missing_config_file_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(VdiError, match="vdi config file not found"):
        load_options(tmp_path / "nope.toml", {})
    monkeypatch.setenv("VDI_CONFIG", str(tmp_path / "also-nope.toml"))  # named, so it must exist
    with pytest.raises(VdiError, match="vdi config file not found at .*also-nope.toml"):
        load_options(None, {})
    monkeypatch.delenv("VDI_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # the default file is optional
    assert load_options(None, {"time_min": 5}) == SlurmOptions(time_min=5)


# --- the CLI: flags that do not fit -----------------------------------------------------------

@pytest.fixture
def toy_env(tmp_path, isolated_store, monkeypatch):
    exp = tmp_path / "experiments"
    exp.mkdir()
    write_spec(exp, id="toy1", seeds=1)
    monkeypatch.setenv("VDI_EXPERIMENTS", str(exp))
    monkeypatch.setenv("VDI_TABLES", str(tmp_path / "tables"))
    toytask.CALLS.clear()
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["--gpus", "0,x"], "--gpus '0,x'"),
    (["--runs-per-gpu", "2"], "--runs-per-gpu needs --gpus"),
    (["--gpus", "0", "--device", "cpu"], "cannot be combined with --device cpu"),
    (["--partition", "gpu"], "--partition only apply to --executor slurm"),
    (["--executor", "slurm", "--gpus", "0"], "--gpus is for --executor local"),
    (["--executor", "slurm", "--partition", "nope"], "--executor slurm needs Slurm's sbatch and srun on PATH"),
])
def test_misfit_executor_flags_are_one_line(toy_env, capsys, monkeypatch, args, message):
    monkeypatch.setenv("PATH", "/nonexistent")  # no sbatch here, whatever this machine has
    assert main(["run", "toy1", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert toytask.CALLS == []


def test_slurm_without_srun_is_one_line(tmp_path, monkeypatch):
    """A login node with sbatch but no srun: submitit would raise a bare RuntimeError."""
    from vdi_core.executors.slurm import sbatch_errors

    (tmp_path / "sbatch").write_text("#!/bin/sh\n")
    (tmp_path / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VdiError, match=r"needs Slurm's srun on PATH; run it on a login node"):
        with sbatch_errors():
            pass


# --- vdi status without Slurm -----------------------------------------------------------------

def test_status_of_local_runs(toy_env, capsys):
    spec = toy_env / "experiments" / "toy1.toml"
    boom = 'overrides = { a = 2.0, "knobs.mode" = "boom" }'
    spec.write_text(spec.read_text().replace("overrides = { a = 2.0 }", boom))
    assert main(["run", "toy1", "--jobs", "1"]) == 1
    capsys.readouterr()
    assert main(["status", "toy1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("toy1 (mini): 1/2 done; 1 done, 1 missing")
    assert "low" in out[1] and "done in" in out[1]
    assert "high" in out[2] and "missing: work folder kept: resumes" in out[2]
    # A process holding the key's run lock (a local run in progress) shows as running.
    key = plan(load_spec(spec), "mini")[1].key
    with key_lock(toy_env / "results" / "mini" / "locks" / f"{key}.lock"):
        assert run_states(toy_env / "results" / "mini", [key])[key].state == "running"
    assert main(["status", "toy2"]) == 2  # unknown table: did-you-mean
    assert "did you mean 'toy1'" in capsys.readouterr().err


def test_status_does_not_import_torch(toy_env):
    assert main(["run", "toy1", "--jobs", "1"]) == 0
    code = ("import sys; from vdi_core.cli import main; rc = main(['status', 'toy1']); "
            "print('TORCH' if 'torch' in sys.modules else 'NO TORCH'); sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "NO TORCH", out.stdout + out.stderr
    assert "2/2 done" in out.stdout


def test_status_reads_a_slurm_failure_from_the_job_record(tmp_path):
    """Without Slurm (squeue absent or silent), a job that ended without a result is a failure,
    with the error line from submitit's result pickle."""
    import pickle

    store = tmp_path / "mini"
    (store / "jobs").mkdir(parents=True)
    pkl = tmp_path / "7_0_result.pkl"
    pkl.write_bytes(pickle.dumps(("error", "Traceback (most recent call last):\n  ...\nRunFailed: t:r seed 0: boom\n")))
    (store / "jobs" / "k1.json").write_text(json.dumps({"job_id": "7_0", "result_pickle": str(pkl), "stderr": "x"}))
    (store / "jobs" / "k2.json").write_text(json.dumps({"job_id": "7_1"}))
    states = run_states(store, ["k1", "k2", "k3"], slurm={"7_1": "PENDING"})
    assert (states["k1"].state, states["k1"].detail) == ("failed", "RunFailed: t:r seed 0: boom")
    assert states["k2"].state == "queued" and states["k3"].state == "missing"


# --- progress -----------------------------------------------------------------------------------

def test_eta_and_plain_progress_lines():
    states = {"a": RunState("a", "done", wall_s=30.0), "b": RunState("b", "done", wall_s=50.0),
              "c": RunState("c", "running"), "d": RunState("d", "queued"), "e": RunState("e", "queued"),
              "f": RunState("f", "failed")}
    assert eta_seconds(states) == 40.0 * 3 / 1  # mean 40 s x 3 left / 1 in flight
    assert summary(states) == "2/6 done; 2 done, 1 running, 2 queued, 1 failed; ETA 2m00s"
    stream = io.StringIO()  # not a TTY: one plain line per change
    display = PlanDisplay(6, stream)
    display.update(states)
    display.update(states)
    states["c"] = RunState("c", "done", wall_s=40.0)
    display.update(states)
    display.close()
    assert stream.getvalue().splitlines() == [
        "2/6 done; 2 done, 1 running, 2 queued, 1 failed; ETA 2m00s",
        "3/6 done; 3 done, 2 queued, 1 failed; ETA 1m20s",
    ]


def test_tty_display_shows_the_plan_bar_and_a_bar_per_running_run(tmp_path):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    log = tmp_path / "run.out"
    log.write_text("toy1:high seed 0  start\ntoy1:high seed 0  epoch 1/6\ntoy1:high seed 0  epoch 3/6\n")
    stream = Tty()
    display = PlanDisplay(2, stream, labels={"k2": "toy1:high s0"})
    display.update({"k1": RunState("k1", "done", wall_s=10.0), "k2": RunState("k2", "running")}, {"k2": str(log)})
    assert display.run_bars["k2"].n == 3 and display.run_bars["k2"].total == 6
    display.update({"k1": RunState("k1", "done", wall_s=10.0), "k2": RunState("k2", "done", wall_s=12.0)})
    assert display.run_bars == {} and display.bar.n == 2
    display.close()
    text = stream.getvalue()
    assert "plan" in text and "toy1:high s0" in text and "1 done, 1 running" in text


def test_executor_decides_the_device(tmp_path, monkeypatch):
    from vdi_core.cli import build_parser
    from vdi_core.executors.run_flags import executor_device

    monkeypatch.delenv("VDI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no ~/.config/vdi/config.toml of this machine
    parse = lambda *a: build_parser().parse_args(["run", "toy1", *a])
    assert executor_device(parse("--gpus", "0,1")) == "cuda"
    assert executor_device(parse("--executor", "slurm")) == "cpu"
    assert executor_device(parse("--executor", "slurm", "--gpus-per-run", "1", "--profile", "paper")) == "cuda"
    assert executor_device(parse("--executor", "slurm", "--device", "cpu")) is None  # --device decides
    assert executor_device(parse()) is None


def test_local_run_on_a_terminal_shows_the_display_and_logs_the_lines(tmp_path):
    """On a (pseudo) terminal, a local `vdi run` draws the plan bar; the runs' own lines, from the
    spawned workers too, go to the log file it names; the results are those of a plain run."""
    import pty
    import select

    exp = tmp_path / "experiments"
    exp.mkdir()
    path = write_spec(exp, id="toyt", seeds=1, extra="\n[base]\nepochs = 3\nsleep_s = 0.3\n")
    path.write_text(path.read_text().replace('task = "toy"', 'task = "toy_epochs"'))
    env = {**os.environ, "VDI_RESULTS": str(tmp_path / "results"), "VDI_CACHE": str(tmp_path / "cache"),
           "VDI_EXPERIMENTS": str(exp), "VDI_TABLES": str(tmp_path / "tables"),
           "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}", "COLUMNS": "120"}
    code = "import sys, toytask; from vdi_core.cli import main; sys.exit(main(sys.argv[1:]))"
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code, "run", "toyt", "--jobs", "2"], env=env, stdout=slave,
                            stderr=subprocess.PIPE, close_fds=True)
    os.close(slave)
    screen, deadline = b"", time.time() + 120
    while time.time() < deadline:
        if select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    text = screen.decode("utf-8", "replace")
    assert proc.returncode == 0, text + proc.stderr.read().decode()
    assert "plan" in text and "2/2" in text and "2 done" in text
    assert "epoch 1/3" not in text  # the runs' lines are in the log, not on the terminal
    log = Path(text.split("the runs' log: ")[1].split()[0])
    lines = log.read_text()
    assert "[1/2] toyt:" in lines and "epoch 3/3" in lines and lines.count("done in") == 2
    stored = (tmp_path / "results" / "mini").glob("*.json")
    scores = sorted(json.loads(p.read_text())["metrics"]["score"] for p in stored)
    assert scores == [1.0 * 6, 2.0 * 6]
