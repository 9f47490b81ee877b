"""The commands a user types often start without torch, open_clip or spaCy (those load only to train
or evaluate a model): each runs in a fresh interpreter, which then reports the heavy modules it
imported. The store holds grounding results of the real Table 2 with their per-query predictions,
so `render` / `report` / `check` read prediction artifacts and compute claim intervals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from vdi_core import predictions
from vdi_core.runner import plan
from vdi_core.spec import find_spec
from vdi_core.store import RunStore

from conftest import REPO

HEAVY = ("torch", "open_clip", "spacy", "numpy", "tabulate")
PROBE = ("import atexit, json, sys\n"
         f"atexit.register(lambda: print('HEAVY=' + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules))))\n"
         "from vdi_core.cli import main\n"
         "sys.exit(main(sys.argv[1:]))\n")


def _heavy_after(args: list[str], env: dict) -> tuple[list[str], subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=120)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("HEAVY=")]
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(line[-1][len("HEAVY="):]), proc


def _prediction_store(root) -> int:
    """Table 2's mini rows, seed 0..2, each with 40 eval queries' top-5 moments kept."""
    spec = find_spec("table2")
    planned = plan(spec, "mini")
    store = RunStore(root, "mini")
    rng = np.random.default_rng(0)
    for i, p in enumerate(planned):
        q = 40
        starts = rng.uniform(0, 20, (q, predictions.TOP_K))
        pred = predictions.Predictions(
            qids=np.array([f"v{j}#0" for j in range(q)]), starts=starts, ends=starts + rng.uniform(1, 10, starts.shape),
            scores=np.sort(rng.uniform(0, 1, starts.shape).astype(np.float32), axis=1)[:, ::-1].copy(),
            exists=np.ones(starts.shape, bool), gt=np.stack([np.full(q, 5.0), np.full(q, 5.0 + (i % 5) + 3)], 1),
            durations=np.full(q, 30.0), nms=0.5)
        extra = predictions.keep(pred, store.artifact_dir(p.key))
        provenance = {"device": "cpu", "assumptions": [], "packages": {}, "git_commit": "test",
                      "finished": "2026-12-01T00:00:00+00:00"}
        store.save(p.key, {"key": p.key, **p.identity, "metrics": predictions.metrics_of(pred), "curves": {},
                           "extra": extra, "provenance": provenance})
    return len(planned)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("startup")
    env = {**os.environ, "VDI_RESULTS": str(tmp / "results"), "VDI_CACHE": str(tmp / "cache"),
           "VDI_TABLES": str(tmp / "tables"), "HF_HUB_OFFLINE": "1"}
    old = {k: os.environ.get(k) for k in ("VDI_RESULTS", "VDI_CACHE")}
    os.environ.update({k: env[k] for k in old})
    try:
        assert _prediction_store(tmp / "results") > 0
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return env


@pytest.mark.parametrize("args", [
    ["--help"], ["list"], ["refs"], ["refs", "--json"], ["status", "--profile", "mini"],
    ["render", "table2", "--profile", "mini"], ["render", "all", "--profile", "paper"],
    ["report", "--profile", "mini"], ["check", "--profile", "mini"], ["results", "table2", "--json"],
    ["cache", "info"],
], ids=lambda a: " ".join(a))
def test_command_imports_no_model_library(env, args):
    heavy, proc = _heavy_after(args, env)
    heavy = [m for m in heavy if m not in ("numpy", "tabulate")]  # tables need numpy; models are the cost
    assert heavy == [], f"vdi {' '.join(args)} imported {heavy}"
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # check: 1 = a finding, not a crash


@pytest.mark.parametrize("args", [["--help"], ["list"], ["refs"]], ids=lambda a: " ".join(a))
def test_help_and_listing_import_not_even_numpy(env, args):
    heavy, proc = _heavy_after(args, env)
    assert heavy == [] and proc.returncode == 0, heavy


def test_render_read_the_predictions(env):
    """The rendered Table 2 carries intervals computed from the stored predictions (not just dashes)."""
    _heavy_after(["render", "table2", "--profile", "mini"], env)
    text = (REPO / env["VDI_TABLES"] / "mini" / "table2.md").read_text()
    claims = text.split("## Claims")[1]
    assert "runs with results: " in text and "Δ" in claims and " [" in claims and "no interval" not in claims


def test_training_still_imports_torch(env):
    """The probe itself can see torch: `vdi run` on a model imports it (so an empty list above means something)."""
    code = "import sys; import vdi_core.grounding.trainer; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert out.stdout.strip() == "True"
