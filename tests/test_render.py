"""Renderer: golden markdown for a hand-made result set, on both profiles."""

import os

import pytest

from vdi_core.render import render_report, render_table
from vdi_core.runner import plan
from vdi_core.spec import load_spec

import toytask  # noqa: F401
from conftest import REPO
from toytask import write_spec

GOLDEN = REPO / "tests" / "golden"


def hand_made_results(planned, skip_rows=()):
    """Row 'low' measured 11/12/13 (mean 12, sd 1), 'high' 20/22/24 (mean 22, sd 2); 'other' = 100 - score."""
    values = {"low": [11.0, 12.0, 13.0], "high": [20.0, 22.0, 24.0]}
    out = {}
    for p in planned:
        if p.row in skip_rows:
            continue
        v = values[p.row][p.seed]
        out[p.key] = {"key": p.key, "metrics": {"score": v, "other": 100 - v}, "provenance": {
            "assumptions": ["A5"], "packages": {"torch": "2.14.1"}, "git_commit": "abc1234",
            "device": "cpu (x86_64, 2 cores)", "finished": "2026-11-27T10:00:00+00:00"}}
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


def test_numbers_in_rendered_table(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "paper", seeds=3)
    text = render_table(spec, "paper", planned, hand_made_results(planned))
    low = next(line for line in text.splitlines() if line.startswith("| 1 "))
    # mean 12.00 ± sd 1.00; paper 12.00; Δ +0.00 within ±0.5; other 88 vs 88
    assert "12.00 ± 1.00" in low and "+0.00 ✓" in low
    high = next(line for line in text.splitlines() if line.startswith("| 2 "))
    assert "**22.00 ± 2.00**" in high and "**22.00**" in high
    assert "- ✓ high beats low on score — score: 22.00 > 12.00" in text


def test_missing_rows_show_dash_and_undecided_claims(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "paper", seeds=3)
    text = render_table(spec, "paper", planned, hand_made_results(planned, skip_rows=("high",)))
    high = next(line for line in text.splitlines() if line.startswith("| 2 "))
    assert high.count("—") == 4  # measured and Δ of both metrics
    assert "- — high beats low on score — high or low not run" in text


def test_rendering_is_deterministic_and_report_joins(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, seeds=3))
    planned = plan(spec, "mini", seeds=3)
    res = hand_made_results(planned)
    a, b = render_table(spec, "mini", planned, res), render_table(spec, "mini", planned, res)
    assert a == b
    report = render_report([(spec, a)], "mini")
    assert report.startswith("# VDI supplementary tables — mini profile") and "### Claims" in report
