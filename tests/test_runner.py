"""Runner: rows x seeds, caching, deduplication across tables, failure isolation."""

import pytest

from vdi_core.errors import VdiError
from vdi_core.runner import execute, load_results, plan
from vdi_core.spec import load_spec

import toytask
from toytask import write_spec


@pytest.fixture(autouse=True)
def _reset_calls():
    toytask.CALLS.clear()


def test_runs_every_row_and_seed_then_caches(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path))
    planned = plan(spec, "mini")
    out = execute(planned, log=lambda s: None)
    assert len(out.ran) == 6 and not out.failed
    assert sorted(toytask.CALLS) == [(1.0, 2, 0), (1.0, 2, 1), (1.0, 2, 2), (2.0, 2, 0), (2.0, 2, 1), (2.0, 2, 2)]
    again = execute(plan(spec, "mini"), log=lambda s: None)
    assert again.ran == [] and len(again.cached) == 6 and len(toytask.CALLS) == 6
    forced = execute(plan(spec, "mini"), force=True, log=lambda s: None)
    assert len(forced.ran) == 6


def test_record_has_metrics_curves_and_provenance(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=1))
    planned = plan(spec, "mini")
    execute(planned, log=lambda s: None)
    rec = load_results(planned)[planned[1].key]
    assert rec["metrics"] == {"score": 22.0, "other": 78.0}
    assert rec["curves"] == {"loss": [3.0, 2.0, 1.0]}
    assert rec["config"]["a"] == 2.0 and rec["seed"] == 0 and rec["profile"] == "mini"
    prov = rec["provenance"]
    assert prov["assumptions"] == ["A5"] and prov["device"].startswith("cpu")
    assert {"git_commit", "packages", "wall_time_s", "started", "finished"} <= set(prov)


def test_same_row_in_two_tables_runs_once(tmp_path, isolated_store):
    s1 = load_spec(write_spec(tmp_path, id="ta", seeds=1))
    s2 = load_spec(write_spec(tmp_path, id="tb", seeds=1))
    planned = plan(s1, "mini") + plan(s2, "mini")
    assert len(planned) == 4 and len({p.key for p in planned}) == 2
    out = execute(planned, log=lambda s: None)
    assert len(out.ran) == 2 and len(toytask.CALLS) == 2
    assert len(load_results(plan(s2, "mini"))) == 2  # table b sees the runs table a triggered


def test_failed_row_keeps_finished_rows(tmp_path, isolated_store):
    extra = '''
[[rows]]
id = "broken"
settings = { a = 3 }
overrides = { a = 3.0, "knobs.mode" = "boom" }
reference = { score = 1.0, other = 1.0 }
'''
    path = write_spec(tmp_path, seeds=1, extra="")
    text = path.read_text()
    # put the broken row first so the good rows run after it
    head, rows = text.split("[[rows]]", 1)
    path.write_text(head + extra.strip() + "\n\n[[rows]]" + rows)
    spec = load_spec(path)
    planned = plan(spec, "mini")
    out = execute(planned, log=lambda s: None)
    assert len(out.failed) == 1 and "RuntimeError: unexpected crash" in next(iter(out.failed.values()))
    assert len(out.ran) == 2 and len(load_results(planned)) == 2


def test_unknown_override_key_fails_before_running(tmp_path, isolated_store):
    path = write_spec(tmp_path)
    path.write_text(path.read_text().replace("overrides = { a = 2.0 }", 'overrides = { "knobs.scael" = 2.0 }'))
    with pytest.raises(VdiError, match=r"row 'high'.*unknown config key 'scael'.*did you mean 'scale'"):
        plan(load_spec(path), "mini")
    assert toytask.CALLS == []


def test_override_type_and_validation_errors(tmp_path, isolated_store):
    path = write_spec(tmp_path)
    path.write_text(path.read_text().replace("overrides = { a = 2.0 }", 'overrides = { b = "two" }'))
    with pytest.raises(VdiError, match=r"'b': expected int, got str"):
        plan(load_spec(path), "mini")
    path.write_text(path.read_text().replace('overrides = { b = "two" }', 'overrides = { "knobs.mode" = "odd" }'))
    with pytest.raises(VdiError, match="knobs.mode must be plain, fail or boom"):
        plan(load_spec(path), "mini")


def test_rows_filter_and_typo(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path))
    assert {p.row for p in plan(spec, "mini", rows=["high"])} == {"high"}
    with pytest.raises(VdiError, match="did you mean 'high'"):
        plan(spec, "mini", rows=["hihg"])


def test_parallel_jobs_give_the_same_records(tmp_path, isolated_store, monkeypatch):
    """--jobs 2 runs rows in spawned worker processes; the stored numbers equal a serial run's."""
    spec = load_spec(write_spec(tmp_path, seeds=2))
    planned = plan(spec, "mini")
    out = execute(planned, log=lambda s: None, jobs=2)
    assert len(out.ran) == 4 and not out.failed
    parallel = {k: r["metrics"] for k, r in load_results(planned).items()}
    monkeypatch.setenv("VDI_RESULTS", str(tmp_path / "serial"))
    execute(planned, log=lambda s: None, jobs=1)
    assert {k: r["metrics"] for k, r in load_results(planned).items()} == parallel


@pytest.mark.parametrize("jobs", [1, 2])
def test_shared_inputs_are_built_once_before_the_runs(tmp_path, isolated_store, jobs):
    """A task's prebuild jobs run before any of its runs (in workers under --jobs 2), each once
    although several rows need the same input, and are skipped once cached."""
    path = write_spec(tmp_path, seeds=2)
    path.write_text(path.read_text().replace('task = "toy"', 'task = "toy_built"')
                    .replace("overrides = { a = 2.0 }", "overrides = { a = 2.0, b = 3 }"))
    planned = plan(load_spec(path), "mini")
    lines = []
    out = execute(planned, log=lines.append, jobs=jobs)
    assert len(out.ran) == 4 and not out.failed, out.failed
    cache = tmp_path / "cache"
    assert (cache / "built-b2").read_text() == "1" and (cache / "built-b3").read_text() == "1"
    assert any("toy input b=2" in line and "toy input b=3" in line for line in lines)
    execute(planned, force=True, log=lines.append, jobs=jobs)
    assert (cache / "built-b2").read_text() == "1"  # cached inputs are not rebuilt


def test_under_jobs_a_run_starts_once_its_own_input_is_built():
    """The scheduler behind --jobs N: a run is submitted when the builds it needs are done, not
    all of them (on a cold cache a worker would otherwise idle while the other pre-trains the big
    backbone); a run whose task cannot say what it needs (None) waits for every build. The slow
    build waits for the fast input's run: a scheduler that held every run back would time out."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from vdi_core.context import BuildJob
    from vdi_core.runner import _run_when_built

    events, fast_run_done = [], threading.Event()

    def build(name, log=print):
        if name == "slow":
            events.append(("slow build waited", fast_run_done.wait(timeout=5)))
        events.append(("built", name))

    builds = [BuildJob("slow input (a, b)", build, ("slow",), resource="slow"),
              BuildJob("fast input", build, ("fast",))]
    runs = [SimpleNamespace(key=k) for k in ("on_slow", "on_fast", "unknown")]
    needs = {"on_slow": {"slow"}, "on_fast": {"fast input"}, "unknown": None}
    with ThreadPoolExecutor(2) as pool:
        def submit(p):
            def run():
                events.append(("ran", p.key))
                if p.key == "on_fast":
                    fast_run_done.set()
                return ("ran", "")
            return pool.submit(run)

        settled = []
        _run_when_built(pool, builds, runs, needs, submit, lambda p, *r: settled.append(p.key), log=lambda s: None)
    assert ("slow build waited", True) in events
    order = [e for e in events if e[0] != "slow build waited"]
    assert order.index(("ran", "on_fast")) < order.index(("built", "slow")) < order.index(("ran", "on_slow"))
    assert order.index(("built", "slow")) < order.index(("ran", "unknown"))
    assert sorted(settled) == ["on_fast", "on_slow", "unknown"]


def test_a_gpu_run_never_overwrites_the_cpu_record(tmp_path, isolated_store):
    """The device kind is part of the run key (bf16 on a GPU gives other numbers than fp32 on a CPU):
    the two runs of a row get two keys and two records, and each is cached for its own kind."""
    spec = load_spec(write_spec(tmp_path, seeds=1))
    on_cpu, on_gpu = plan(spec, "mini", device="cpu"), plan(spec, "mini", device="cuda")
    assert {p.key for p in on_cpu}.isdisjoint({p.key for p in on_gpu})
    assert len(execute(on_cpu, device="cpu", log=lambda s: None).ran) == 2
    assert len(execute(on_gpu, device="cuda", log=lambda s: None).ran) == 2  # toy task: no real GPU needed
    assert all(r["provenance"]["device"].startswith("cpu") for r in load_results(on_cpu).values())
    assert all(r["provenance"]["device"].startswith("cuda") for r in load_results(on_gpu).values())
    assert len(execute(on_cpu, device="cpu", log=lambda s: None).cached) == 2
    with pytest.raises(VdiError, match="planned for cpu but is run on cuda"):
        execute(on_cpu, device="cuda", log=lambda s: None)
