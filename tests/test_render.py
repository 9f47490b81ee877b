"""Renderer: golden markdown for a hand-made result set, on both profiles."""

import os

import numpy as np
import pytest

from vdi_core import predictions
from vdi_core.paths import results_root
from vdi_core.render import render_report, render_table
from vdi_core.runner import plan
from vdi_core.spec import load_spec
from vdi_core.store import RunStore

import toytask  # noqa: F401
from conftest import REPO
from toytask import write_spec

GOLDEN = REPO / "tests" / "golden"


# Per-item offsets around a run's score (each sums to 0, so the items' mean is the score).
OFFSETS = {"low": [-3, -1, 0, 1, 3, -2, 2, 0], "high": [1, -2, 3, 0, -1, 2, -3, 0]}


def hand_made_results(planned, skip_rows=(), items=False):
    """Row 'low' measured 11/12/13 (mean 12, sd 1), 'high' 20/22/24 (mean 22, sd 2); 'other' = 100 - score.
    items=True also keeps 8 per-item outcomes per run (score + OFFSETS) as an artifact, so claims
    get intervals."""
    values = {"low": [11.0, 12.0, 13.0], "high": [20.0, 22.0, 24.0]}
    out = {}
    for p in planned:
        if p.row in skip_rows:
            continue
        v = values[p.row][p.seed]
        out[p.key] = {"key": p.key, "metrics": {"score": v, "other": 100 - v}, "provenance": {
            "assumptions": ["A5"], "packages": {"torch": "2.14.1"}, "git_commit": "abc1234",
            "device": "cpu (x86_64, 2 cores)", "finished": "2026-11-27T10:00:00+00:00"}}
        if items:
            per_item = v + np.array(OFFSETS[p.row], dtype=float)
            art = RunStore(results_root(), p.profile).artifact_dir(p.key) / predictions.OUTCOMES_FILE
            digest = predictions.save_outcomes(art, [f"q{i}" for i in range(8)],
                                               {"score": per_item, "other": 100 - per_item})
            out[p.key]["extra"] = {"per_item": {"file": predictions.OUTCOMES_FILE, "sha256": digest}}
    return out


def _compare(name, text):
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"rendered markdown differs from {path} (UPDATE_GOLDEN=1 rewrites it)"


@pytest.mark.parametrize("profile", ["mini", "paper"])
def test_golden_markdown(tmp_path, isolated_store, profile):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, profile, seeds=3)
    _compare(f"toy_{profile}.md", render_table(spec, profile, planned, hand_made_results(planned)))


@pytest.mark.parametrize("profile", ["mini", "paper"])
def test_golden_markdown_with_intervals(tmp_path, isolated_store, profile):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, profile, seeds=3)
    text = render_table(spec, profile, planned, hand_made_results(planned, items=True))
    _compare(f"toy_{profile}_intervals.md", text)


def test_interval_numbers_by_hand(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "mini", seeds=3)
    text = render_table(spec, "mini", planned, hand_made_results(planned, items=True))
    # high - low per seed: 9, 10, 11 plus per-item offsets that cancel in the mean: Δ +10.0
    assert "- ✓ high beats low on score — score: Δ +10.0 [" in text and "no interval" not in text


def test_old_results_without_artifacts_render_as_before_marked_no_interval(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "paper", seeds=3)
    text = render_table(spec, "paper", planned, hand_made_results(planned))
    assert "- ✓ high beats low on score — score: 22.00 > 12.00 · no interval (no per-query artifact)" in text
    assert "CI" not in text and "Δ +" not in text.split("## Claims")[1]


def test_numbers_in_rendered_table(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "paper", seeds=3)
    text = render_table(spec, "paper", planned, hand_made_results(planned))
    low = next(line for line in text.splitlines() if line.startswith("| 1 "))
    # mean 12.00 ± sd 1.00; paper 12.00; Δ +0.00 within ±0.5; other 88 vs 88
    assert "12.00 ± 1.00" in low and "+0.00 ✓" in low
    high = next(line for line in text.splitlines() if line.startswith("| 2 "))
    assert "**22.00 ± 2.00**" in high and "**22.00**" in high
    assert "- ✓ high beats low on score — score: 22.00 > 12.00 · no interval" in text


def test_missing_rows_show_dash_and_undecided_claims(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "paper", seeds=3)
    text = render_table(spec, "paper", planned, hand_made_results(planned, skip_rows=("high",)))
    high = next(line for line in text.splitlines() if line.startswith("| 2 "))
    assert high.count("—") == 4  # measured and Δ of both metrics
    assert "- — high beats low on score — high not run" in text


def test_rendering_is_deterministic_and_report_joins(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "mini", seeds=3)
    res = hand_made_results(planned)
    a, b = render_table(spec, "mini", planned, res), render_table(spec, "mini", planned, res)
    assert a == b
    report = render_report([(spec, a)], "mini")
    assert report.startswith("# VDI supplementary tables — mini profile") and "### Claims" in report
