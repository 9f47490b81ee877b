"""Benchmarks of the claims' intervals (vdi_core/stats.py, issue 11).

- 10,000 query-bootstrap resamples over 3 seeds x 3,000 queries <= 0.2 s: R@k outcomes (0/1) and
  mIoU outcomes (IoUs; the resample counts are drawn once per query count and reused, so the
  first call pays for them and is reported separately).
- `vdi render` of every mini table with intervals <= 5 s warm: a synthetic store with a result
  JSON and a predictions artifact (800 eval queries, top-5 moments) for every planned mini run
  (71 runs, 3 seeds per grounding row), rendered by the CLI in a fresh process. Asserted on the
  process's CPU time (wall time on a shared 2-core machine measures the neighbours); both reported.

Run: nox -s bench  (or pytest tests/bench/test_bench_stats.py -m bench --benchmark-enable -s)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from vdi_core import stats

pytestmark = pytest.mark.bench
REPO = Path(__file__).resolve().parents[2]
S, Q, N_BOOT = 3, 3000, 10_000


def _rows(continuous: bool):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.7, Q)
    if continuous:
        noise = rng.normal(0, 0.2, (2, S, Q))
        return np.clip(base + noise[0], 0, 1), np.clip(base - 0.02 + noise[1], 0, 1)
    return ((rng.random((S, Q)) < base).astype(float), (rng.random((S, Q)) < base - 0.02).astype(float))


def _best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@pytest.mark.parametrize("kind", ["R@k", "mIoU"])
def test_bench_paired_diff_ci(benchmark, kind):
    a, b = _rows(kind == "mIoU")
    stats._resample_counts.cache_clear()
    t0 = time.perf_counter()
    stats.paired_diff_ci(a, b, n_boot=N_BOOT)
    first = time.perf_counter() - t0
    benchmark(stats.paired_diff_ci, a, b, n_boot=N_BOOT)
    best = _best_of(lambda: stats.paired_diff_ci(a, b, n_boot=N_BOOT))
    if benchmark.stats is not None:
        best = min(best, benchmark.stats.stats.min)
    benchmark.extra_info.update(seeds=S, queries=Q, n_boot=N_BOOT, first_call_s=first, best_s=best)
    print(f"\npaired_diff_ci {kind}: {N_BOOT} resamples over {S} x {Q}: {best * 1e3:.1f} ms "
          f"(first call {first * 1e3:.1f} ms)")
    assert best <= 0.2, f"{kind}: {best:.3f} s for {N_BOOT} resamples over {S} x {Q} (target <= 0.2 s)"


# --- vdi render of all mini tables over a synthetic store --------------------------------------

MINI_QUERIES = 800


def _synthetic_predictions(rng, quality: float, qids, gt, durations):
    from vdi_core.predictions import TOP_K, Predictions

    hit = rng.random(len(qids)) < quality
    length = gt[:, 1] - gt[:, 0]
    jitter = rng.normal(0, 0.15, (len(qids), TOP_K)) * length[:, None]
    starts = np.where(hit[:, None], gt[:, :1] + jitter, rng.random((len(qids), TOP_K)) * durations[:, None] * 0.7)
    starts = np.clip(starts, 0, durations[:, None] * 0.9)
    ends = np.minimum(starts + length[:, None] * rng.uniform(0.6, 1.4, (len(qids), TOP_K)), durations[:, None])
    scores = np.sort(rng.random((len(qids), TOP_K)).astype(np.float32), axis=1)[:, ::-1].copy()
    return Predictions(np.asarray(qids), starts, ends, scores, np.ones_like(starts, dtype=bool), gt, durations, 0.5)


def build_synthetic_store(root: Path) -> int:
    """A result JSON (+ predictions.npz for grounding runs) for every planned mini run; returns
    the number of runs written. Runs of one table row differ by seed; rows differ in quality."""
    from vdi_core.predictions import metrics_of, save_predictions
    from vdi_core.runner import plan
    from vdi_core.spec import find_spec, list_specs
    from vdi_core.store import RunStore

    rng = np.random.default_rng(0)
    qids = [f"v{i // 3}#{i % 3}" for i in range(MINI_QUERIES)]
    durations = rng.uniform(20, 40, MINI_QUERIES)
    starts = rng.uniform(0, 0.6, MINI_QUERIES) * durations
    gt = np.stack([starts, np.minimum(starts + rng.uniform(3, 10, MINI_QUERIES), durations)], 1)
    store = RunStore(root, "mini")
    records: dict[str, dict] = {}
    for name in list_specs():
        spec = find_spec(name)
        for p in plan(spec, "mini"):
            row = spec.row(p.row)
            rec = records.setdefault(p.key, {"key": p.key, **p.identity, "metrics": {}, "curves": {}, "extra": {},
                                             "provenance": {"assumptions": [], "packages": {"numpy": np.__version__},
                                                            "git_commit": "synthetic", "device": "cpu (bench)",
                                                            "started": "2026-12-01T00:00:00+00:00",
                                                            "finished": "2026-12-01T00:00:00+00:00",
                                                            "wall_time_s": 0.0}})
            if p.task == "grounding":
                if not rec["metrics"]:
                    row_rng = np.random.default_rng([zlib.crc32(p.row.encode()), p.seed])
                    quality = 0.25 + 0.1 * (zlib.crc32(p.row.encode()) % 5) / 5 + row_rng.normal(0, 0.01)
                    pred = _synthetic_predictions(row_rng, quality, qids, gt, durations)
                    digest = save_predictions(store.artifact_dir(p.key) / "predictions.npz", pred)
                    rec["metrics"] = metrics_of(pred)
                    rec["extra"]["predictions"] = {"file": "predictions.npz", "sha256": digest,
                                                   "queries": MINI_QUERIES}
            else:  # probe / word weights keep no per-item artifact: their claims show "no interval"
                for m in spec.metrics:
                    rec["metrics"][row.metric_prefix + m.id] = float(rng.uniform(0.1, 0.9))
    for key, rec in records.items():
        store.save(key, rec)
    return len(records)


def test_bench_render_all_mini_tables_with_intervals(tmp_path, benchmark):
    env = dict(os.environ, VDI_RESULTS=str(tmp_path / "results"), VDI_TABLES=str(tmp_path / "tables"),
               VDI_CACHE=str(tmp_path / "cache"), PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    old = {k: os.environ.get(k) for k in ("VDI_RESULTS", "VDI_CACHE")}
    os.environ.update(VDI_RESULTS=env["VDI_RESULTS"], VDI_CACHE=env["VDI_CACHE"])
    try:
        runs = build_synthetic_store(tmp_path / "results")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    cmd = [sys.executable, "-m", "vdi_core.cli", "render", "all"]
    cpu = []

    def render():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=REPO)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)

    render()  # warm: the store exists, the OS caches the files
    best = _best_of(render, repeat=3)
    benchmark.pedantic(render, rounds=1, iterations=1)
    # The target is wall time on an idle machine. On a shared one (2 cores, several jobs) wall time
    # measures the neighbours, so the assertion uses the process's CPU time (user + sys), which is
    # what an idle core would need: `vdi render` is single-threaded apart from torch's import.
    best_cpu = min(cpu)
    text = (tmp_path / "tables" / "mini" / "table3.md").read_text()
    assert "Δ " in text and "[" in text  # claims carry intervals
    marks = {m: sum(t.read_text().count(f"\n- {m} ") for t in (tmp_path / "tables" / "mini").glob("*.md"))
             for m in "✓✗≈"}
    load = os.getloadavg()[0]
    benchmark.extra_info.update(runs=runs, queries=MINI_QUERIES, render_wall_s=best, render_cpu_s=best_cpu,
                                load_average=load, marks=json.dumps(marks))
    print(f"\nvdi render all (mini, {runs} runs, {MINI_QUERIES} queries each, intervals): CPU {best_cpu:.2f} s, "
          f"wall {best:.2f} s at load average {load:.1f}; claims {marks}")
    assert best_cpu <= 5.0, f"vdi render of all mini tables took {best_cpu:.2f} s of CPU (target <= 5 s)"
