"""Benchmark: the vectorised evaluator vs a per-query Python loop at Charades-STA test size
(3,720 queries x 136 proposals, N=16). Both must give identical metrics; target speed-up >= 20x.

Run: nox -s bench  (or .venv/bin/pytest tests/bench/test_bench_metrics.py -m bench --benchmark-enable -s)
"""

import importlib.util
import time
from pathlib import Path

import pytest
import torch

from vdi_core.grounding.proposals import proposal_mask
from vdi_core.metrics import evaluate

Q, N = 3720, 16


def _load_reference():
    path = Path(__file__).resolve().parents[1] / "metrics_reference.py"
    spec = importlib.util.spec_from_file_location("vdi_tests_metrics_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _charades_like_inputs():
    g = torch.Generator().manual_seed(0)
    mask = proposal_mask(N, [15])
    # MMN's final score is in (0, 1); float32 as the model produces it.
    scores = torch.rand(Q, N, N, generator=g)
    durations = torch.rand(Q, generator=g, dtype=torch.float64) * 60 + 12   # Charades test ~3-72 s
    longest = torch.clamp(durations, max=24.0)                                # moments 2.5-24 s
    lengths = 2.5 + torch.rand(Q, generator=g, dtype=torch.float64) * (longest - 2.5)
    starts = torch.rand(Q, generator=g, dtype=torch.float64) * (durations - lengths)
    gt = torch.stack([starts, starts + lengths], 1)
    return scores, mask, durations, gt


@pytest.mark.bench
def test_bench_evaluate_vs_python_loop(benchmark):
    scores, mask, durations, gt = _charades_like_inputs()
    assert int(mask.sum()) == 136
    reference_evaluate = _load_reference().reference_evaluate

    # One torch thread: the loop uses one core too, and on a shared machine extra OpenMP threads
    # only add contention (measured: 2 threads under load ran 10x slower than 1).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        expected = reference_evaluate(scores, mask, durations, gt)
        loop_s = time.perf_counter() - t0
        result = benchmark(evaluate, scores, mask, durations, gt)
        vector_s = min(_timed(evaluate, scores, mask, durations, gt) for _ in range(5))
        if benchmark.stats is not None:  # benchmarking enabled: its many rounds give a better min
            vector_s = min(vector_s, benchmark.stats.stats.min)
    finally:
        torch.set_num_threads(threads)
    assert result == expected

    speedup = loop_s / vector_s
    benchmark.extra_info.update(queries=Q, candidates=136, loop_s=loop_s, vectorised_s=vector_s,
                                speedup=speedup, torch_threads=1)
    print(f"\nevaluate {Q} queries x 136 proposals: vectorised {vector_s * 1e3:.1f} ms, "
          f"per-query Python loop {loop_s:.2f} s, speed-up {speedup:.0f}x (1 torch thread)")
    assert speedup >= 20, f"vectorised evaluator only {speedup:.1f}x faster than the loop (target >= 20x)"


def _timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


# --- `score` on JSON-shaped input: 200 ActivityNet-like queries x 1,104 candidates ---------------

def _activitynet_like_json(q=200, seed=0):
    """MMN's ActivityNet map (N=64, pooling 15/8/8: 1,104 cells) in seconds, float scores in (0, 1)."""
    import random

    rng = random.Random(seed)
    ci, cj = (t.tolist() for t in proposal_mask(64, [15, 8, 8]).nonzero(as_tuple=True))
    pred, gt = {}, {}
    for k in range(q):
        d = rng.uniform(30, 240)
        pred[f"v_{k}"] = [[i * d / 64, (j + 1) * d / 64, rng.random()] for i, j in zip(ci, cj, strict=True)]
        s = rng.uniform(0, 0.7 * d)
        gt[f"v_{k}"] = {"moment": [s, min(d, s + rng.uniform(2, 0.4 * d))], "duration": d}
    return pred, gt


def numpy_loop_score(pred, gt, thresh=0.5, ks=(1, 5), ious=(0.3, 0.5, 0.7)):
    """A plain per-query numpy loop: one array per query, a lexsort, greedy NMS until max(ks) kept."""
    import math

    import numpy as np

    top = []
    for qid, entry in gt.items():
        d = entry["duration"]
        g0, g1 = max(entry["moment"][0], 0.0), min(entry["moment"][1], d)
        a = np.asarray(pred[qid], dtype=np.float64).reshape(-1, 3)
        if not np.isfinite(a).all() or (a[:, 1] < a[:, 0]).any() or (a[:, 0] < 0).any() or (a[:, 1] > d).any():
            raise ValueError(qid)
        order = np.lexsort((a[:, 1], a[:, 0], -a[:, 2]))
        kept = []
        for c in order:
            if kept:
                s, e = a[kept, 0], a[kept, 1]
                inter = np.clip(np.minimum(e, a[c, 1]) - np.maximum(s, a[c, 0]), 0, None)
                union = np.maximum(e, a[c, 1]) - np.minimum(s, a[c, 0])
                if (np.where(union > 0, inter / np.where(union > 0, union, 1), 0) > thresh).any():
                    continue
            kept.append(c)
            if len(kept) == max(ks):
                break
        k = np.asarray(kept, dtype=np.int64)
        inter = np.clip(np.minimum(a[k, 1], g1) - np.maximum(a[k, 0], g0), 0, None)
        top.append((inter / (np.maximum(a[k, 1], g1) - np.minimum(a[k, 0], g0))).tolist())
    out = {f"R@{k},IoU={m:g}": sum(any(t >= m for t in ts[:k]) for ts in top) / len(top) * 100
           for k in ks for m in ious}
    out["mIoU"] = math.fsum(ts[0] if ts else 0.0 for ts in top) / len(top) * 100
    return out


@pytest.mark.bench
def test_bench_score_vs_per_query_loops(benchmark):
    """Issue 10 item 10 asked for >= 20x a per-query numpy loop. Not reachable with JSON-shaped
    input: turning the 662k Python floats into an array (done once by `score`, per query by the
    loop) costs more than half of the loop's time on its own. Measured and printed, not asserted;
    the numbers must be identical."""
    from vdi_core.metrics import score

    pred, gt = _activitynet_like_json()
    reference_score = _load_reference().reference_score
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        numpy_s = min(_timed(numpy_loop_score, pred, gt) for _ in range(3))
        python_s = min(_timed(reference_score, pred, gt) for _ in range(3))
        result = benchmark(score, pred, gt)
        vector_s = min(_timed(score, pred, gt) for _ in range(5))
        if benchmark.stats is not None:
            vector_s = min(vector_s, benchmark.stats.stats.min)
    finally:
        torch.set_num_threads(threads)
    assert result == reference_score(pred, gt)
    expected = numpy_loop_score(pred, gt)
    assert result.keys() == expected.keys()
    assert all(abs(result[k] - expected[k]) < 1e-9 for k in result)
    benchmark.extra_info.update(queries=len(gt), candidates=1104, numpy_loop_s=numpy_s, python_loop_s=python_s,
                                vectorised_s=vector_s, speedup_vs_numpy_loop=numpy_s / vector_s,
                                speedup_vs_python_loop=python_s / vector_s)
    print(f"\nscore {len(gt)} queries x 1104 candidates: vectorised {vector_s * 1e3:.1f} ms, per-query numpy "
          f"loop {numpy_s * 1e3:.1f} ms ({numpy_s / vector_s:.1f}x), per-query Python loop "
          f"{python_s * 1e3:.1f} ms ({python_s / vector_s:.1f}x)")
