"""Run keys and atomic writes."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from vdi_core.io import atomic_write_json
from vdi_core.runner import plan
from vdi_core.spec import load_spec
from vdi_core.store import RunStore, run_key

import toytask  # noqa: F401 - registers the toy task
from toytask import write_spec

IDENTITY = {"task": "toy", "seed": 0, "config": {"a": 1.0, "b": 2, "knobs": {"mode": "plain", "scale": 1.0}},
            "fingerprints": {"data": "x"}}


def test_key_ignores_key_order():
    reordered = {"fingerprints": {"data": "x"}, "config": {"knobs": {"scale": 1.0, "mode": "plain"}, "b": 2, "a": 1.0},
                 "seed": 0, "task": "toy"}
    assert run_key(IDENTITY) == run_key(reordered)


def _leaves(d, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, prefix + (k,))
        else:
            yield prefix + (k,)


def _set(d, path, value):
    d = json.loads(json.dumps(d))
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return d


@pytest.mark.parametrize("path", list(_leaves(IDENTITY)))
def test_key_changes_with_every_field(path):
    cur = IDENTITY
    for k in path:
        cur = cur[k]
    other = cur + "_" if isinstance(cur, str) else cur + 1
    assert run_key(_set(IDENTITY, path, other)) != run_key(IDENTITY)


def test_plan_keys_stable_across_spec_spellings(tmp_path, isolated_store):
    p1 = write_spec(tmp_path, id="t1")
    d2 = tmp_path / "other"
    d2.mkdir()
    p2 = write_spec(d2, id="t1")
    # Same overrides written as nested tables and with an int instead of a float.
    p2.write_text(p2.read_text().replace("overrides = { a = 1.0 }", "overrides = { a = 1 }"))
    k1 = [p.key for p in plan(load_spec(p1), "mini")]
    k2 = [p.key for p in plan(load_spec(p2), "mini")]
    assert k1 == k2 and len(set(k1)) == 6


def test_plan_key_changes_with_profile_and_seed(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=2))
    mini = plan(spec, "mini")
    paper = plan(spec, "paper", seeds=2)
    assert {p.key for p in mini}.isdisjoint({p.key for p in paper})
    assert mini[0].key != mini[1].key  # seed 0 vs seed 1 of the same row


def test_atomic_write_interrupted_leaves_old_file(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"old": True})

    def boom(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json(target, {"new": True})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind


def test_killed_write_leaves_no_partial_json(tmp_path):
    """SIGKILL in the middle of a write: the result path is either absent or complete."""
    target = tmp_path / "results" / "mini" / "abc.json"
    code = textwrap.dedent(f"""
        import os, time, sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from vdi_core import store
        os.fsync = lambda fd: (print("writing", flush=True), time.sleep(60))
        store.atomic_write_json(store.Path({str(target)!r}), {{"metrics": list(range(100000))}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert not target.exists()
    store = RunStore(tmp_path / "results", "mini")
    assert store.load("abc") is None and not store.path("abc").exists()


def test_git_commit_marks_code_changes_dirty_but_not_rendered_tables(tmp_path, monkeypatch):
    """A run's provenance says "+dirty" when the checkout's code differs from HEAD; the rendered
    tables are outputs (`vdi run premise` rewrites tables/mini/premise.md before `vdi run all`)."""
    import shutil

    from vdi_core import store as store_mod

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "t.md").write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "y")
    monkeypatch.setattr(store_mod, "REPO_ROOT", tmp_path)
    clean = store_mod.git_commit()
    assert len(clean) == 10 and "+" not in clean
    (tmp_path / "tables" / "t.md").write_text("new\n")
    assert store_mod.git_commit() == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert store_mod.git_commit() == clean + "+dirty"
