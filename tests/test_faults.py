"""Faults that need real processes or file modes: two `vdi run`s at once, a killed parent, the
mode of written files, a full disk at save, a corrupt checkpoint (tests/bad_input_cases_core.py
holds the bad inputs that one in-process CLI call can show)."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vdi_core import store as store_mod
from vdi_core.render import render_table
from vdi_core.runner import execute, load_results, plan
from vdi_core.spec import load_spec
from vdi_core.store import RunStore

import toytask
from toytask import write_spec

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# A `vdi` that knows the toy task; it waits for a go file so two of them start at the same moment.
DRIVER = f"""
import os, sys, time
sys.path.insert(0, {str(TESTS)!r})
import toytask
from vdi_core.cli import main
go = os.environ.get("VDI_TEST_GO")
if go:
    open(go + "." + str(os.getpid()), "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
sys.exit(main(sys.argv[1:]))
"""

EXTRA_ROW = '''
[[rows]]
id = "only_b"
settings = { a = 3 }
overrides = { a = 3.0 }
reference = { score = 32.0, other = 68.0 }
'''


def _env(tmp: Path, **extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), VDI_RESULTS=str(tmp / "results"), VDI_CACHE=str(tmp / "cache"),
               VDI_TABLES=str(tmp / "tables"), VDI_EXPERIMENTS=str(tmp / "experiments"),
               VDI_TOY_CALLS=str(tmp / "calls.txt"))
    env.update(extra)
    return env


def _vdi(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_two_concurrent_runs_share_rows_and_run_each_key_once(tmp_path, monkeypatch):
    exp = tmp_path / "experiments"
    exp.mkdir()
    write_spec(exp, id="ta", seeds=2)
    write_spec(exp, id="tb", seeds=2, extra=EXTRA_ROW)  # shares ta's rows, adds one
    go = tmp_path / "go"
    env = _env(tmp_path, VDI_TOY_SLEEP="0.7", VDI_TEST_GO=str(go))
    procs = [_vdi(["run", "ta", "--jobs", "1"], env), _vdi(["run", "tb", "--jobs", "2"], env)]
    deadline = time.time() + 60
    while len(list(tmp_path.glob("go.*"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    go.touch()  # both start in the same instant
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    calls = [tuple(line.split()[:3]) for line in (tmp_path / "calls.txt").read_text().splitlines()]
    # 2 shared rows x 2 seeds + tb's own row x 2 seeds; each key exactly once across both processes
    assert sorted(calls) == sorted({("1.0", "2", "0"), ("1.0", "2", "1"), ("2.0", "2", "0"), ("2.0", "2", "1"),
                                    ("3.0", "2", "0"), ("3.0", "2", "1")}), calls
    assert any("waiting for another process running this key" in o or "finished meanwhile by another process" in o
               for o in outs), outs  # they really overlapped on a shared key
    # both tables are complete and equal a fresh render of the stored results
    monkeypatch.setenv("VDI_RESULTS", str(tmp_path / "results"))
    for table in ("ta", "tb"):
        spec = load_spec(exp / f"{table}.toml")
        planned = plan(spec, "mini")
        results = load_results(planned)
        assert len(results) == len(planned)
        text = (tmp_path / "tables" / "mini" / f"{table}.md").read_text()
        assert text == render_table(spec, "mini", planned, results)
        assert "12.50 ± 0.71" in text and "22.50 ± 0.71" in text
    assert "32.50 ± 0.71" in (tmp_path / "tables" / "mini" / "tb.md").read_text()
    assert not list((tmp_path / "results" / "mini" / "work").glob("*/*"))  # no scratch left


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status waits to be collected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_vdi_run_takes_its_workers_down(tmp_path):
    exp = tmp_path / "experiments"
    exp.mkdir()
    write_spec(exp, id="toy1", seeds=2)
    env = _env(tmp_path, VDI_TOY_SLEEP="120")
    parent = _vdi(["run", "toy1", "--jobs", "2"], env)
    calls = tmp_path / "calls.txt"
    deadline = time.time() + 90
    while time.time() < deadline and (not calls.exists() or len(calls.read_text().splitlines()) < 2):
        assert parent.poll() is None, parent.communicate()[0]
        time.sleep(0.1)
    workers = {int(line.split()[3]) for line in calls.read_text().splitlines()}
    assert len(workers) == 2 and workers <= set(_children(parent.pid))  # two workers, each in a row
    everyone = set(_children(parent.pid))
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in everyone):
        time.sleep(0.1)
    assert not [p for p in everyone if _alive(p)], "pool workers outlived the killed `vdi run`"


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640)])
def test_written_files_follow_the_umask(tmp_path, isolated_store, monkeypatch, umask, mode):
    from vdi_core.cli import main

    exp = tmp_path / "experiments"
    exp.mkdir()
    write_spec(exp, id="toy1", seeds=1)
    monkeypatch.setenv("VDI_EXPERIMENTS", str(exp))
    monkeypatch.setenv("VDI_TABLES", str(tmp_path / "tables"))
    old = os.umask(umask)
    try:
        assert main(["run", "toy1", "--jobs", "1", "--report"]) == 0
        assert main(["check", "--update-golden"]) == 0
    finally:
        os.umask(old)
    files = list((tmp_path / "results" / "mini").glob("*.json")) + list((tmp_path / "tables" / "mini").glob("*"))
    assert len(files) == 2 + 3  # two records; toy1.md, report.md, golden.json
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: oct(mode) for f in files}


def test_a_full_disk_at_save_fails_that_row_only(tmp_path, isolated_store, monkeypatch):
    spec = load_spec(write_spec(tmp_path, seeds=1))
    planned = plan(spec, "mini")
    real = store_mod.atomic_write_json

    def full_for_low(path, obj):
        if obj.get("config", {}).get("a") == 1.0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, obj)

    monkeypatch.setattr(store_mod, "atomic_write_json", full_for_low)
    toytask.CALLS.clear()
    out = execute(planned, log=lambda s: None)
    assert len(out.ran) == 1 and len(out.failed) == 1
    reason = next(iter(out.failed.values()))
    assert "toy1:low seed 0: cannot save the result" in reason and "No space left on device" in reason
    assert len(load_results(planned)) == 1
    assert RunStore(tmp_path / "results", "mini").work_dir(planned[0].key).is_dir()  # kept for a resume


def test_a_corrupt_checkpoint_is_discarded_with_a_warning(tmp_path):
    from vdi_core.grounding.trainer import _load_checkpoint

    ckpt = tmp_path / "grounding_checkpoint.pt"
    ckpt.write_bytes(b"PK\x03\x04 this is not a whole torch file")
    lines = []
    assert _load_checkpoint(ckpt, lines.append) is None
    assert not ckpt.exists() and len(lines) == 1 and "WARNING" in lines[0] and "from scratch" in lines[0]
    import torch

    torch.save({"key": "k"}, ckpt)  # readable, but not a checkpoint of ours
    assert _load_checkpoint(ckpt, lines.append) is None and "not a grounding checkpoint" in lines[1]


def test_checkpoint_temp_names_are_unique(tmp_path, monkeypatch):
    """Two writers of one checkpoint never share a temp file (the old fixed `.tmp` name raced)."""
    from vdi_core.grounding import trainer

    seen = []
    real = trainer.torch.save
    monkeypatch.setattr(trainer.torch, "save", lambda obj, f: (seen.append(str(f)), real(obj, f))[1])
    target = tmp_path / "c.pt"
    trainer._save(target, {"a": 1})
    trainer._save(target, {"a": 2})
    assert len(set(seen)) == 2 and all(Path(s).parent == tmp_path for s in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


LOCKED_COUNTER = """
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from vdi_core.locks import key_lock
counter = Path({counter!r})
for _ in range(200):
    with key_lock(Path({lock!r})):
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))  # read-modify-write: loses updates unless the lock holds
"""


def test_key_lock_excludes_other_processes(tmp_path):
    code = LOCKED_COUNTER.format(repo=str(REPO), counter=str(tmp_path / "n"), lock=str(tmp_path / "locks" / "k.lock"))
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert (tmp_path / "n").read_text() == "600"


MINI_RECORDS = """
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from vdi_core.mini.build import MiniBuild
import os, time
build = MiniBuild(Path({cache!r}), log=lambda s: None)
open({go!r} + "." + sys.argv[1], "w").close()
while not os.path.exists({go!r}):
    time.sleep(0.005)
for i in range(150):
    build._record(f"{{sys.argv[1]}} {{i}}", 0.0)
"""


def test_two_mini_builders_lose_no_build_record(tmp_path):
    """build.json is read, extended and rewritten by every builder: the entry lock keeps all updates."""
    go = tmp_path / "go"
    code = MINI_RECORDS.format(repo=str(REPO), cache=str(tmp_path / "cache"), go=str(go))
    procs = [subprocess.Popen([sys.executable, "-c", code, name]) for name in ("a", "b")]
    deadline = time.time() + 60
    while len(list(tmp_path.glob("go.*"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    go.touch()  # both write at once
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    import json

    built = json.loads(next((tmp_path / "cache" / "mini").glob("*/build.json")).read_text())["built"]
    assert len(built) == 300
