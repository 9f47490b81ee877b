"""`vdi results`: the machine-readable table (JSON, CSV, text) with intervals and verdicts."""

import csv
import io
import json

import numpy as np
import pytest
from test_claims import _rows, _store

from vdi_core.cli import main
from vdi_core.runner import plan
from vdi_core.spec import find_spec

from toytask import write_spec


@pytest.fixture
def env(tmp_path, isolated_store, monkeypatch):
    exp = tmp_path / "experiments"
    exp.mkdir()
    write_spec(exp, id="toy1", seeds=3)
    monkeypatch.setenv("VDI_EXPERIMENTS", str(exp))
    spec = find_spec("toy1")
    planned = plan(spec, "mini")
    low, high = _rows(np.random.default_rng(0), 5.0, n=200)
    _store(planned, {"low": low, "high": high})
    return low, high


def test_json_per_row_metric_and_claim(env, capsys):
    low, high = env
    assert main(["results", "toy1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (t,) = out["tables"]
    assert out["profile"] == "mini" and t["table"] == "toy1" and t["runs"] == {"planned": 6, "with_results": 6}
    cell = t["rows"][0]["metrics"]["score"]
    assert t["rows"][0]["id"] == "low" and t["rows"][0]["seeds"] == [0, 1, 2]
    assert cell["n"] == 3 and cell["values"] == pytest.approx(low.mean(1).tolist())
    assert cell["mean"] == pytest.approx(low.mean()) and cell["std"] == pytest.approx(low.mean(1).std(ddof=1))
    assert cell["paper"] == 12.0 and cell["status"] == "measured"
    assert cell["ci"][0] < cell["mean"] < cell["ci"][1] and cell["paper_in_ci"] is False
    (claim,) = t["claims"]
    assert claim["verdict"] == "holds" and claim["interval"] is True
    assert claim["diff"] == pytest.approx(high.mean() - low.mean()) and 0 < claim["lo"] < claim["diff"] < claim["hi"]
    assert claim["evidence"].startswith("high beats low on score — score: Δ +")


def test_csv_and_text(env, capsys):
    assert main(["results", "toy1", "--csv"]) == 0
    lines = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["row"], r["metric"]) for r in lines] == [("low", "score"), ("low", "other"),
                                                         ("high", "score"), ("high", "other")]
    assert lines[0]["n"] == "3" and len(lines[0]["values"].split(";")) == 3 and lines[0]["ci_lo"]
    assert main(["results", "toy1"]) == 0
    text = capsys.readouterr().out
    assert "claim high_beats_low: holds — high beats low on score" in text and "n=3" in text


def test_not_run_profile_and_bad_input(env, capsys):
    assert main(["results", "toy1", "--profile", "paper", "--json"]) == 0
    (t,) = json.loads(capsys.readouterr().out)["tables"]
    assert t["rows"][0]["metrics"]["score"]["status"] == "not run" and t["claims"][0]["verdict"] is None
    assert main(["results", "toy9"]) == 2
    assert "unknown table 'toy9'" in capsys.readouterr().err
    assert main(["results", "toy1", "--json", "--csv"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
