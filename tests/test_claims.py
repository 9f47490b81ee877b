"""Claims judged from paired intervals: verdicts, max/min against every other row, pairing only
on the same eval items, "no interval" without artifacts, and `vdi check` on verdicts."""

import json

import numpy as np
import pytest

from vdi_core import predictions
from vdi_core.check import check, claim_change
from vdi_core.claims import aggregate, collect_evidence, judge_claim
from vdi_core.paths import results_root
from vdi_core.render import render_table, write_table
from vdi_core.runner import plan
from vdi_core.spec import load_spec
from vdi_core.store import RunStore

import toytask  # noqa: F401
from toytask import write_spec

MID_ROW = '''
[[rows]]
id = "mid"
settings = { a = 3 }
overrides = { a = 3.0 }
reference = { score = 15.0, other = 85.0 }

[[claims]]
id = "high_is_max"
text = "high is best"
kind = "max"
row = "high"
among = ["low", "mid", "high"]
metrics = ["score"]
'''


def _store(planned, items: dict, ids=None):
    """Result records (score = mean of the row's items per seed) with their outcome artifacts."""
    out = {}
    for p in planned:
        if p.row not in items:
            continue
        v = np.asarray(items[p.row][p.seed], dtype=float)
        store = RunStore(results_root(), p.profile)
        names = (ids or {}).get(p.row, [f"q{i}" for i in range(len(v))])
        digest = predictions.save_outcomes(store.artifact_dir(p.key) / "outcomes.npz", names,
                                           {"score": v, "other": 100 - v})
        out[p.key] = {"key": p.key, **p.identity, "metrics": {"score": float(v.mean()), "other": float(100 - v.mean())},
                      "curves": {}, "extra": {"per_item": {"file": "outcomes.npz", "sha256": digest}},
                      "provenance": {"assumptions": [], "packages": {}, "git_commit": "x", "device": "cpu (test)",
                                     "started": "2026-12-01T00:00:00+00:00", "finished": "2026-12-01T00:00:00+00:00",
                                     "wall_time_s": 0.0}}
        store.save(p.key, out[p.key])
    return out


def _rows(rng, shift, seeds=3, n=400, noise=0.0):
    base = rng.random(n) * 50
    low = np.stack([base + rng.normal(0, 10, n) for _ in range(seeds)])
    high = np.stack([base + shift + rng.normal(0, 10, n) + rng.normal(0, noise) for _ in range(seeds)])
    return low, high


def _judge(spec, planned, results, claim_id="high_beats_low"):
    cells = aggregate(spec, "mini", planned, results)
    ev = collect_evidence(spec, "mini", planned, results)
    claim = next(c for c in spec.claims if c.id == claim_id)
    return judge_claim(spec, claim, cells, "mini", ev)


@pytest.mark.parametrize("shift,expected", [(5.0, "holds"), (-5.0, "contradicted"), (0.0, "undecided")])
def test_verdicts_follow_the_intervals(tmp_path, isolated_store, shift, expected):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "mini", seeds=3)
    low, high = _rows(np.random.default_rng(0), shift)
    res = _judge(spec, planned, _store(planned, {"low": low, "high": high}))
    (c,) = res.comparisons
    assert res.verdict == expected and res.interval
    assert c.diff == pytest.approx(high.mean() - low.mean()) and c.lo < c.diff < c.hi
    if expected == "undecided":
        assert c.lo < 0 < c.hi


def test_max_compares_with_every_other_row(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3, extra=MID_ROW))
    planned = plan(spec, "mini", seeds=3)
    rng = np.random.default_rng(1)
    low, high = _rows(rng, 8.0)
    mid = high - 0.5 + rng.normal(0, 10, high.shape)  # about as good as high: not settled by 3 seeds
    results = _store(planned, {"low": low, "high": high, "mid": mid})
    res = _judge(spec, planned, results, "high_is_max")
    assert [c.label for c in res.comparisons] == ["score vs low", "score vs mid"]
    assert [c.verdict for c in res.comparisons] == ["holds", "undecided"]
    assert res.verdict == "undecided"
    text = render_table(spec, "mini", planned, results)
    assert "- ≈ high is best — score vs low: Δ +" in text and "seeds would settle it" in text


def test_pairing_needs_the_same_items_in_the_same_order(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "mini", seeds=3)
    low, high = _rows(np.random.default_rng(2), 5.0, n=20)
    shuffled = {"high": [f"q{i}" for i in reversed(range(20))]}
    res = _judge(spec, planned, _store(planned, {"low": low, "high": high}, ids=shuffled))
    (c,) = res.comparisons
    assert c.no_interval == "rows evaluated on different queries" and c.lo is None
    assert res.verdict == "holds"  # the means' ordering, marked as such


def test_claim_change_rules():
    assert claim_change("holds", "contradicted") == "fail"
    assert claim_change(True, "contradicted") == "fail"  # a golden file from before verdicts
    assert claim_change("holds", "undecided") == "note"
    assert claim_change("holds", None) == "note"
    assert claim_change("holds", "holds") is None
    assert claim_change("undecided", "contradicted") is None and claim_change(False, "contradicted") is None


def _render(spec, planned, results, tables):
    write_table(spec, "mini", render_table(spec, "mini", planned, results), tables)


@pytest.mark.parametrize("shift,outcome", [(-5.0, "fail"), (0.0, "note")])
def test_check_fails_on_contradicted_and_notes_undecided(tmp_path, isolated_store, shift, outcome):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "mini", seeds=3)
    tables = tmp_path / "tables"
    low, high = _rows(np.random.default_rng(3), 5.0)
    _render(spec, planned, _store(planned, {"low": low, "high": high}), tables)
    assert check([spec], "mini", tables_root=tables, update_golden=True).ok
    golden_file = tables / "mini" / "golden.json"
    golden = json.loads(golden_file.read_text())
    assert golden["tables"]["toy1"]["claims"] == {"high_beats_low": "holds"}
    golden["tables"]["toy1"]["claims"] = {"high_beats_low": True}  # as older golden files store it
    golden_file.write_text(json.dumps(golden))
    _, high = _rows(np.random.default_rng(3), shift)
    _render(spec, planned, _store(planned, {"low": low, "high": high}), tables)
    rep = check([spec], "mini", tables_root=tables)
    claim_failures = [f for f in rep.failures if "claim" in f]  # (the cells drifted too: their own failures)
    if outcome == "fail":
        assert len(claim_failures) == 1 and "held in golden but is contradicted now" in claim_failures[0]
    else:
        assert not claim_failures and any("held in golden, undecided now" in n for n in rep.notes)
