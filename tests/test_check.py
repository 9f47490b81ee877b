"""`vdi check`: each failure mode, and a clean pass."""

import json

import pytest

from vdi_core.check import check
from vdi_core.render import render_table, write_table
from vdi_core.runner import execute, load_results, plan
from vdi_core.spec import load_spec
from vdi_core.store import RunStore

import toytask  # noqa: F401
from toytask import write_spec


@pytest.fixture
def env(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    tables = tmp_path / "tables"
    return spec, tables


def _run_and_render(spec, profile, tables, seeds=None):
    planned = plan(spec, profile, seeds=seeds)
    execute(planned, log=lambda s: None)
    write_table(spec, profile, render_table(spec, profile, planned, load_results(planned)), tables)
    return planned


def _tamper(planned, row, metric, value):
    """Pretend a re-run produced a different number for every seed of a row."""
    for p in planned:
        if p.row == row:
            store = RunStore(__import__("vdi_core.paths", fromlist=["x"]).results_root(), p.profile)
            rec = store.load(p.key)
            rec["metrics"][metric] = value
            store.save(p.key, rec)


def test_clean_mini_pass_after_golden(env):
    spec, tables = env
    _run_and_render(spec, "mini", tables)
    rep = check([spec], "mini", tables_root=tables, update_golden=True)
    assert rep.ok
    golden = json.loads((tables / "mini" / "golden.json").read_text())
    assert golden["tables"]["toy1"]["rows"]["high"]["score"] == {"mean": 23.0, "std": 1.0, "n": 3}
    assert golden["tables"]["toy1"]["claims"] == {"high_beats_low": "holds"}  # a verdict (no interval here)
    assert check([spec], "mini", tables_root=tables).ok


def test_a_paper_result_outside_tolerance(env):
    spec, tables = env
    _run_and_render(spec, "paper", tables, seeds=1)  # seed 0 gives exactly the references 12 / 22
    assert check([spec], "paper", tables_root=tables).ok
    planned = plan(spec, "paper", seeds=1)
    _tamper(planned, "low", "score", 12.6)
    write_table(spec, "paper", render_table(spec, "paper", planned, load_results(planned)), tables)
    rep = check([spec], "paper", tables_root=tables)
    assert rep.failures == ["toy1 | low | score: measured 12.60 vs paper 12.00 (Δ +0.60, tolerance ±0.5)"]


def test_b_mini_drift_from_golden(env):
    spec, tables = env
    planned = _run_and_render(spec, "mini", tables)
    check([spec], "mini", tables_root=tables, update_golden=True)
    _tamper(planned, "low", "score", 14.0)  # golden mean 13.0, tolerance 0.5
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    rep = check([spec], "mini", tables_root=tables)
    assert rep.failures == ["toy1 | low | score: 14.00 now vs golden 13.00 (Δ +1.00, tolerance ±0.5)"]


def test_c_claim_flip(env):
    spec, tables = env
    planned = _run_and_render(spec, "mini", tables)
    check([spec], "mini", tables_root=tables, update_golden=True)
    _tamper(planned, "high", "score", 5.0)
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    rep = check([spec], "mini", tables_root=tables)
    assert any("claim 'high_beats_low' held in golden but is contradicted now: high beats low on score — "
               "score: 5.00 ≤ 13.00 · no interval" in f for f in rep.failures)


def test_d_stale_table_results_changed(env):
    spec, tables = env
    planned = _run_and_render(spec, "mini", tables)
    check([spec], "mini", tables_root=tables, update_golden=True)
    _tamper(planned, "low", "other", 87.0 + 0.1)  # small enough for golden, but the table is now stale
    rep = check([spec], "mini", tables_root=tables)
    assert any("is stale: results changed since it was rendered" in f for f in rep.failures)


def test_d_stale_table_plan_changed(env, tmp_path):
    spec, tables = env
    _run_and_render(spec, "mini", tables)
    changed = load_spec(write_spec(tmp_path, seeds=2))  # the spec now asks for 2 seeds
    rep = check([changed], "mini", tables_root=tables)
    assert any("spec, config, device kind or code version changed" in f for f in rep.failures)


def test_d_missing_stamp(env):
    spec, tables = env
    _run_and_render(spec, "mini", tables)
    path = tables / "mini" / "toy1.md"
    path.write_text(path.read_text().split("<!-- vdi-render")[0])
    rep = check([spec], "mini", tables_root=tables)
    assert any("has no render stamp" in f for f in rep.failures)


def test_results_absent_is_a_failure_not_an_ok(env, tmp_path, monkeypatch):
    """An empty or wrong VDI_RESULTS compares nothing, so it must not say OK."""
    spec, tables = env
    _run_and_render(spec, "mini", tables)
    check([spec], "mini", tables_root=tables, update_golden=True)
    monkeypatch.setenv("VDI_RESULTS", str(tmp_path / "elsewhere"))  # a fresh clone: no results
    rep = check([spec], "mini", tables_root=tables)
    assert not rep.ok and len(rep.failures) == 1 and rep.failures[0].startswith("no mini results for toy1 under ")


def test_cli_exit_codes(env, monkeypatch, capsys):
    from vdi_core.commands import suite

    spec, tables = env
    monkeypatch.setattr(suite, "find_spec", lambda name: spec)
    import vdi_core.check as chk

    monkeypatch.setattr(chk, "tables_dir", lambda profile, root=None: tables / profile)
    planned = _run_and_render(spec, "paper", tables, seeds=1)
    from vdi_core.cli import main

    assert main(["check", "toy1", "--profile", "paper"]) == 0
    _tamper(planned, "high", "score", 30.0)
    write_table(spec, "paper", render_table(spec, "paper", planned, load_results(planned)), tables)
    assert main(["check", "toy1", "--profile", "paper"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: toy1 | high | score: measured 30.00 vs paper 22.00" in out and "1 failure(s)" in out


def test_a_mini_result_computed_on_a_gpu_is_not_compared_with_the_cpu_golden(env):
    spec, tables = env
    planned = _run_and_render(spec, "mini", tables)
    check([spec], "mini", tables_root=tables, update_golden=True)
    store = RunStore(__import__("vdi_core.paths", fromlist=["x"]).results_root(), "mini")
    rec = store.load(planned[0].key)
    rec["provenance"]["device"] = "cuda:0 (NVIDIA H100 80GB HBM3)"
    store.save(planned[0].key, rec)
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    rep = check([spec], "mini", tables_root=tables)
    assert rep.failures == [f"toy1 | {planned[0].row} seed {planned[0].seed}: computed on cuda:0 (NVIDIA H100 80GB "
                            "HBM3), but the golden file holds CPU numbers; run `vdi run toy1 --device cpu`"]


def _set_cpu_kind(planned, kind):
    store = RunStore(__import__("vdi_core.paths", fromlist=["x"]).results_root(), "mini")
    for p in planned:
        rec = store.load(p.key)
        rec["provenance"]["cpu_kind"] = kind
        store.save(p.key, rec)


def test_the_golden_file_records_the_cpu_kind_and_cells_are_compared_within_one_kind(env):
    from vdi_core.store import cpu_kind

    spec, tables = env
    planned = _run_and_render(spec, "mini", tables)
    assert all(r["provenance"]["cpu_kind"] == cpu_kind() for r in load_results(planned).values())
    assert cpu_kind().startswith(__import__("platform").machine()) and ", torch " in cpu_kind()
    check([spec], "mini", tables_root=tables, update_golden=True)
    assert json.loads((tables / "mini" / "golden.json").read_text())["cpu_kind"] == cpu_kind()
    _tamper(planned, "low", "score", 14.0)
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    assert len(check([spec], "mini", tables_root=tables).failures) == 1  # same kind: the drift fails


def test_results_from_another_cpu_kind_are_not_compared_cell_by_cell_but_their_claims_are(env):
    spec, tables = env
    planned = _run_and_render(spec, "mini", tables)
    check([spec], "mini", tables_root=tables, update_golden=True)
    _set_cpu_kind(planned, "x86_64 GenuineIntel family 6 model 143, torch AVX512")
    _tamper(planned, "low", "score", 14.0)  # a drift that would fail on the golden file's kind
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    rep = check([spec], "mini", tables_root=tables)
    assert rep.ok and rep.compared == 0
    assert rep.notes[0].startswith("toy1: results computed on 'x86_64 GenuineIntel family 6 model 143, torch "
                                   "AVX512', the golden file on ") and "claims are" in rep.notes[0]
    _tamper(planned, "high", "score", 10.0)  # now low beats high: the claim that held is contradicted
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    rep = check([spec], "mini", tables_root=tables)
    assert len(rep.failures) == 1 and "held in golden but is contradicted now" in rep.failures[0]


def test_update_golden_refuses_results_from_two_cpu_kinds(env):
    from vdi_core.errors import VdiError

    spec, tables = env
    planned = _run_and_render(spec, "mini", tables)
    _set_cpu_kind(planned[:1], "x86_64 GenuineIntel family 6 model 143, torch AVX512")
    with pytest.raises(VdiError, match="refusing to update the golden file: its results come from 2 kinds of CPU"):
        check([spec], "mini", tables_root=tables, update_golden=True)
    assert not (tables / "mini" / "golden.json").exists()


def test_a_golden_file_with_a_bad_cpu_kind_is_one_line(env):
    from vdi_core.errors import VdiError

    spec, tables = env
    _run_and_render(spec, "mini", tables)
    check([spec], "mini", tables_root=tables, update_golden=True)
    path = tables / "mini" / "golden.json"
    g = json.loads(path.read_text())
    path.write_text(json.dumps({**g, "cpu_kind": 7}))
    with pytest.raises(VdiError, match=r"golden file .*: 'cpu_kind' is 7, not a string; restore it from git"):
        check([spec], "mini", tables_root=tables)
