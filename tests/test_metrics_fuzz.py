"""Property checks of the evaluator on random score maps. Each would fail under a plausible bug:
recall not monotone (wrong top-k slicing), mIoU outside [0, 100] or above what R@1 allows (tIoU
or mIoU computed wrongly), results depending on query order (cross-query leakage in the
vectorised NMS), on the time unit (IoU not scale-free) or on the list order of distinct scores."""

import random

import pytest
import torch

from vdi_core.grounding.proposals import proposal_mask
from vdi_core.metrics import evaluate, score

KS, IOUS = (1, 2, 3, 5, 10), (0.1, 0.3, 0.5, 0.7, 0.9)


def _random_case(seed, q=80, n=16, counts=(7, 4)):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 8, (q, n, n), generator=g).float()  # heavy ties
    durations = torch.rand(q, generator=g, dtype=torch.float64) * 60 + 4
    a = torch.rand(q, generator=g, dtype=torch.float64) * durations
    b = torch.rand(q, generator=g, dtype=torch.float64) * durations
    gt = torch.stack([torch.minimum(a, b), torch.maximum(a, b)], 1)
    gt[:, 1] += (gt[:, 1] == gt[:, 0]) * 1e-3 * durations  # keep start < end
    gt[:, 1] = torch.minimum(gt[:, 1], durations)
    return scores, proposal_mask(n, list(counts)), durations, gt


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("nms_t", [0.5, 0.3, None])
def test_recall_monotone_and_miou_bounded(seed, nms_t):
    out = evaluate(*_random_case(seed), nms=nms_t, ks=KS, ious=IOUS)
    for m in IOUS:
        series = [out[f"R@{k},IoU={m:g}"] for k in KS]
        assert series == sorted(series), (m, series)          # more candidates, never fewer hits
    for k in KS:
        series = [out[f"R@{k},IoU={m:g}"] for m in IOUS]
        assert series == sorted(series, reverse=True), (k, series)  # stricter IoU, never more hits
    assert 0.0 <= out["mIoU"] <= 100.0
    for m in IOUS:
        # top-1 tIoU >= m on a share r of queries implies mIoU >= m * r (Markov bound)
        assert out["mIoU"] >= m * out[f"R@1,IoU={m:g}"] - 1e-9
        assert out[f"R@1,IoU={m:g}"] <= 100.0


@pytest.mark.parametrize("seed", range(3))
def test_invariant_to_query_order_and_time_unit(seed):
    scores, mask, durations, gt = _random_case(seed)
    base = evaluate(scores, mask, durations, gt, ks=KS, ious=IOUS)
    perm = torch.randperm(scores.shape[0], generator=torch.Generator().manual_seed(seed))
    assert evaluate(scores[perm], mask, durations[perm], gt[perm], ks=KS, ious=IOUS) == base
    # x4 is exact in binary floating point, so times in quarter-seconds give the same doubles' ratios
    assert evaluate(scores, mask, durations * 4, gt * 4, ks=KS, ious=IOUS) == base


@pytest.mark.parametrize("seed", range(3))
def test_score_invariant_to_candidate_order_when_scores_distinct(seed):
    rng = random.Random(seed)
    pred, gt = {}, {}
    for k in range(50):
        d = rng.uniform(5, 60)
        s = rng.uniform(0, d - 1)
        gt[k] = {"moment": [s, rng.uniform(s + 0.5, d)], "duration": d}
        scores = rng.sample(range(1000), 20)  # distinct
        cands = []
        for sc in scores:
            a = rng.uniform(0, d)
            cands.append([a, rng.uniform(a, d), sc / 1000])
        pred[k] = cands
    base = score(pred, gt, ks=KS, ious=IOUS)
    shuffled = {k: rng.sample(v, len(v)) for k, v in pred.items()}
    assert score(shuffled, gt, ks=KS, ious=IOUS) == base
