"""Moment-retrieval evaluation as in MMN (docs/REPRODUCTION_NOTES.md, MMN): greedy NMS, R@n at IoU m, mIoU.

Definitions (all values returned x100, as Python floats):
- tIoU(a, b) = max(0, min(e_a, e_b) - max(s_a, s_b)) / (max(e_a, e_b) - min(s_a, s_b)), in float64;
  0 where the union is empty (two zero-length spans).
- Ranking and ties: candidates are sorted by score, descending; exact ties go to the earlier
  start, then the earlier end: row-major (i, then j) over the valid cells of the 2D map in
  `evaluate` (MMN's map order under a stable sort), and the same (start, end) order in `score`, so
  a score is a function of the *set* of candidates, not of their list order. (MMN's unstable
  torch sort leaves ties undefined.)
- Greedy NMS: walk the ranking, keep a candidate unless its IoU with an already kept one is
  > `nms` (strictly). nms=None disables suppression. Only the first max(ks) kept ones matter, so
  the vectorised form stops there: step t keeps, for every query at once, the best candidate not
  yet kept or suppressed (first index among equal scores) -- exactly what greedy NMS keeps t-th.
- R@n,IoU=m: share of queries with a kept top-n moment of tIoU >= m (inclusive). Fewer than n
  kept candidates just means fewer chances.
- mIoU (not in MMN; standard for Charades-CG): mean top-1 tIoU; a query without candidates adds 0.
  Means use math.fsum, so the result is independent of device, threads and summation order.

In `evaluate` (the 2D map) the NMS IoU between two cells is computed in clip units, where it is an
exact ratio of integers; MMN computes it in seconds (float32), so a cell pair whose IoU is exactly
the threshold -- common on the grid, e.g. (0,1) vs (0,3) -- was decided by rounding noise there.
tIoU against the ground truth is in seconds, with cell (i, j) spanning [(i*D)/N, ((j+1)*D)/N].
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from .errors import VdiError, did_you_mean
from .prediction_checks import gt_entry, pred_arrays
from .recall import IOUS, KS

log = logging.getLogger(__name__)


def tiou(pred, gt) -> torch.Tensor:
    """Float64 tIoU of spans [..., 2] (start, end), broadcasting pred against gt."""
    p = torch.as_tensor(pred, dtype=torch.float64)
    g = torch.as_tensor(gt, dtype=torch.float64, device=p.device)
    return _iou(p[..., 0], p[..., 1], g[..., 0], g[..., 1])


def _iou(s1, e1, s2, e2) -> torch.Tensor:
    inter = (torch.minimum(e1, e2) - torch.maximum(s1, s2)).clamp(min=0)
    union = torch.maximum(e1, e2) - torch.minimum(s1, s2)
    return torch.where(union > 0, inter / union, 0.0)


def _check_nms(nms) -> None:
    if nms is not None and not (isinstance(nms, (int, float)) and 0.0 <= nms <= 1.0):
        raise VdiError(f"nms threshold must be in [0, 1] (or None for no NMS), got {nms!r}; MMN uses 0.5")


def _check_options(nms, ks, ious) -> None:
    _check_nms(nms)
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise VdiError(f"ks must be positive integers, got {ks!r}; e.g. (1, 5)")
    if not ious or any(not (isinstance(m, (int, float)) and 0.0 < m <= 1.0) for m in ious):
        raise VdiError(f"IoU thresholds must be in (0, 1], got {ious!r}; e.g. (0.3, 0.5, 0.7)")


def _greedy_topk(scores, valid, k, suppress, chunk=2048, ties=None):
    """Indices [Q, k] (into the candidate axis) of the first k moments greedy NMS keeps, in rank
    order, and a bool [Q, k] saying which exist. scores/valid are [Q, K] (invalid = padding;
    valid=None: all valid). suppress(cand [q], rows slice) -> bool [q, K]: the candidates that the
    kept `cand` suppresses. ties=(starts, ends) [Q, K]: exact score ties go to the earlier start,
    then the earlier end (None: to the first index, for callers whose candidate order already is
    that order, e.g. the row-major cells of the 2D map).
    Works on blocks of queries so ActivityNet-sized inputs stay within memory."""
    parts = []
    for a in range(0, scores.shape[0], chunk):
        rows = slice(a, a + chunk)
        block_valid = None if valid is None else valid[rows]
        block_ties = None if ties is None else (ties[0][rows], ties[1][rows])
        parts.append(_greedy_block(scores[rows], block_valid, k, suppress, rows, block_ties))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _first_of_ties(remaining, best, ties):
    """Per query, the index of the tied-best candidate with the smallest (start, end)."""
    tied = remaining == best[:, None]
    if not (tied.sum(dim=1) > 1).any():  # no ties anywhere (usual for float scores): max() decided
        return tied.to(torch.uint8).argmax(dim=1)
    starts, ends = ties
    s_min = torch.where(tied, starts, math.inf).min(dim=1, keepdim=True).values
    tied &= starts == s_min
    e_min = torch.where(tied, ends, math.inf).min(dim=1, keepdim=True).values
    tied &= ends == e_min
    return tied.to(torch.uint8).argmax(dim=1)  # first index among identical (start, end, score)


def _greedy_block(scores, valid, k, suppress, rows_slice, ties=None):
    q_count = scores.shape[0]
    device = scores.device
    # No sort needed: step t takes the best remaining candidate, and max() returns the first index
    # among equal maxima -- the stable-sort tie rule; with `ties`, exact ties are broken by (start,
    # end) so the result depends on the set of candidates, not on their list order. -inf marks
    # "kept, suppressed or padding" (real scores are finite, checked by the callers).
    remaining = scores.clone() if valid is None else scores.masked_fill(~valid, -math.inf)
    rows = torch.arange(q_count, device=device)
    kept = torch.zeros(q_count, k, dtype=torch.long, device=device)
    exists = torch.zeros(q_count, k, dtype=torch.bool, device=device)
    for t in range(k):
        best, cand = remaining.max(dim=1)
        if ties is not None:
            cand = _first_of_ties(remaining, best, ties)
        exists[:, t] = best > -math.inf
        kept[:, t] = cand
        remaining.masked_fill_(suppress(cand, rows_slice), -math.inf)
        remaining[rows, cand] = -math.inf
    return kept, exists


def _seconds_suppressor(starts, ends, nms):
    """suppress() for per-query geometry: tIoU in seconds with the kept candidate > nms."""
    def suppress(cand, rows):
        s, e = starts[rows], ends[rows]
        if nms is None:
            return torch.zeros_like(s, dtype=torch.bool)
        return _iou(s, e, s.gather(1, cand[:, None]), e.gather(1, cand[:, None])) > nms
    return suppress


def _summarise(top_tiou, exists, ks, ious) -> dict:
    """top_tiou/exists [Q, k] for the kept moments in rank order -> the metrics dict (x100)."""
    q_count = top_tiou.shape[0]
    t = torch.where(exists, top_tiou, -1.0)  # a missing candidate reaches no threshold
    out = {}
    for k in ks:
        for m in ious:
            hits = int((t[:, :k] >= m).any(dim=1).sum())
            out[f"R@{k},IoU={m:g}"] = hits / q_count * 100
    out["mIoU"] = math.fsum(t[:, 0].clamp(min=0).tolist()) / q_count * 100
    return out


def evaluate(scores, mask, durations, gt, nms=0.5, ks=KS, ious=IOUS) -> dict:
    """Metrics of 2D score maps: scores [Q, N, N], mask [N, N] (valid cells, i <= j), durations [Q]
    seconds, gt [Q, 2] ground-truth moments in seconds (already clamped to [0, duration]; ends past
    it by float rounding, relative 1e-6, are accepted as they are)."""
    _check_options(nms, ks, ious)
    if not torch.is_tensor(scores) or scores.dim() != 3 or scores.shape[1] != scores.shape[2]:
        raise VdiError(f"scores must be a tensor [Q, N, N], got {getattr(scores, 'shape', type(scores))}")
    q_count, n = scores.shape[0], scores.shape[1]
    device = scores.device
    mask = torch.as_tensor(mask, device=device)
    if mask.dtype != torch.bool or mask.shape != (n, n) or not mask.any():
        raise VdiError(f"mask must be a non-empty bool tensor [{n}, {n}] matching scores, got "
                       f"{mask.dtype} {tuple(mask.shape)}; build it with grounding.proposals.proposal_mask")
    if (mask & ~torch.ones_like(mask).triu()).any():
        raise VdiError("mask marks cells with i > j (end before start); "
                       "valid cells lie on or above the diagonal")
    if q_count == 0:
        raise VdiError("no queries to evaluate (scores has Q = 0)")
    ci, cj = mask.nonzero(as_tuple=True)  # the K valid cells in row-major order
    flat = scores.detach().reshape(q_count, n * n)[:, ci * n + cj]  # [Q, K]
    if flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()  # exact; sorting needs no more than the model's precision
    # NaN/inf make a row's sum non-finite; the element-wise check runs only then (cheaper).
    bad = ~torch.isfinite(flat).all(dim=1) if not torch.isfinite(flat.sum(dim=1)).all() else None
    if bad is not None and bad.any():
        raise VdiError(f"non-finite (NaN/inf) scores for {int(bad.sum())} queries, first at query index "
                       f"{int(bad.nonzero()[0])}; check the model's outputs (e.g. NaN features or loss)")
    d = torch.as_tensor(durations, dtype=torch.float64, device=device)
    g = torch.as_tensor(gt, dtype=torch.float64, device=device)
    if d.shape != (q_count,) or g.shape != (q_count, 2):
        raise VdiError(f"durations must be [{q_count}] and gt [{q_count}, 2], "
                       f"got {tuple(d.shape)} and {tuple(g.shape)}")
    ok = torch.isfinite(d) & (d > 0) & torch.isfinite(g).all(dim=1)
    # An end past the duration by float32 rounding (moments and durations stored in different
    # precisions) is harmless; anything more means the moments were not clamped.
    ok &= (g[:, 0] >= 0) & (g[:, 0] < g[:, 1]) & (g[:, 1] <= d * (1 + 1e-6))
    if not ok.all():
        q = int((~ok).nonzero()[0])
        raise VdiError(f"query index {q}: ground truth {g[q].tolist()} is not a moment inside "
                       f"[0, {float(d[q])}]; clamp moments to the video and drop start >= end when "
                       "loading (MMN does)")
    # NMS geometry in clip units: exact, and the same for every query, so one K x K table serves all.
    c_start, c_end = ci.to(torch.float64), (cj + 1).to(torch.float64)
    table = _iou(c_start[:, None], c_end[:, None], c_start[None], c_end[None])
    table = table > (math.inf if nms is None else nms)
    kept, exists = _greedy_topk(flat, None, max(ks), lambda cand, rows: table[cand])
    seg_start = ci[kept].to(torch.float64) * d[:, None] / n
    seg_end = (cj[kept] + 1).to(torch.float64) * d[:, None] / n
    top = _iou(seg_start, seg_end, g[:, None, 0], g[:, None, 1])
    return _summarise(top, exists, ks, ious)


def nms(moments, scores, thresh=0.5, top_k=None) -> torch.Tensor:
    """Greedy NMS of one query's candidates: moments [K, 2], scores [K] -> LongTensor of the kept
    candidates' indices in rank order (exact score ties: earlier start, then earlier end, then
    candidate order), at most top_k of them."""
    m = torch.as_tensor(moments, dtype=torch.float64)
    s = torch.as_tensor(scores, dtype=torch.float64, device=m.device)
    if m.dim() != 2 or m.shape[1] != 2 or s.shape != (m.shape[0],):
        raise VdiError(f"nms needs moments [K, 2] and scores [K], "
                       f"got {tuple(m.shape)} and {tuple(s.shape)}")
    if not torch.isfinite(s).all() or not torch.isfinite(m).all():
        raise VdiError("nms got NaN/inf moments or scores; check the model's outputs")
    _check_nms(thresh)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
        raise VdiError(f"top_k must be a non-negative integer or None, got {top_k!r}")
    if m.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long)
    k = m.shape[0] if top_k is None else min(top_k, m.shape[0])
    suppress = _seconds_suppressor(m[None, :, 0], m[None, :, 1], thresh)
    kept, exists = _greedy_topk(s[None], None, k, suppress, ties=(m[None, :, 0], m[None, :, 1]))
    return kept[0][exists[0]]

def score(pred, gt, nms=0.5, ks=KS, ious=IOUS, pred_name="pred", gt_name="gt") -> dict:
    """Metrics of any model's predictions, as loaded from JSON.

    pred: query id -> [[start, end, score], ...] in seconds inside [0, duration], any order: the
    result depends only on the set of candidates (exact score ties go to the earlier start, then
    the earlier end -- MMN's row-major map order under a stable sort).
    gt: query id -> {"moment": [s, e], "duration": D}. Every gt id needs predictions and vice versa.
    Ground-truth moments are clamped to [0, D] as MMN's loader does (counted and logged). NMS uses
    the tIoU in seconds. pred_name/gt_name label the two inputs in error messages (file names).
    """
    _check_options(nms, ks, ious)
    if not isinstance(gt, dict) or not gt:
        raise VdiError(f"{gt_name}: expected a non-empty JSON object: "
                       'query id -> {"moment": [s, e], "duration": D}')
    if not isinstance(pred, dict):
        raise VdiError(f"{pred_name}: expected a JSON object: query id -> [[start, end, score], ...]")
    missing = [q for q in gt if q not in pred]
    extra = [q for q in pred if q not in gt]
    if missing:
        hint = did_you_mean(missing[0], extra) if isinstance(missing[0], str) and extra else ""
        raise VdiError(f"{pred_name}: no predictions for {len(missing)} of {len(gt)} queries of {gt_name}, "
                       f"first {missing[0]!r}{hint}; predict every ground-truth query")
    if extra:
        raise VdiError(f"{pred_name}: {len(extra)} query ids are not in {gt_name}, first {extra[0]!r}; "
                       "check that the two files belong together")
    qids = list(gt)
    parsed = [gt_entry(q, gt[q], gt_name) for q in qids]
    g = torch.tensor([p[0] for p in parsed], dtype=torch.float64)
    clamped = sum(p[2] for p in parsed)
    flat, lengths = pred_arrays(pred, qids, [p[1] for p in parsed], pred_name)
    k_max = max(int(lengths.max()), 1)  # nobody predicted anything: keep one (invalid) column
    valid_np = np.arange(k_max) < lengths[:, None]
    padded_np = np.zeros((len(qids), k_max, 3))
    padded_np[valid_np] = flat  # row-major fill: query by query, candidates in list order
    padded, valid = torch.from_numpy(padded_np), torch.from_numpy(valid_np)
    starts, ends = padded[..., 0], padded[..., 1]
    kept, exists = _greedy_topk(padded[..., 2], valid, max(ks), _seconds_suppressor(starts, ends, nms),
                                ties=(starts, ends))
    top = _iou(starts.gather(1, kept), ends.gather(1, kept), g[:, None, 0], g[:, None, 1])
    if clamped:
        log.warning("%s: %d of %d ground-truth moments clamped to [0, duration] (as MMN does)",
                    gt_name, clamped, len(gt))
    return _summarise(top, exists, ks, ious)
