"""Straightforward per-query Python-loop evaluators: the reference that vdi_core.metrics must equal.

Pure Python (lists and floats, no torch) so they share no code with the vectorised evaluator; they
follow its documented definitions: ranking by score (exact ties: earlier start, then end), greedy NMS
suppressing IoU > thresh (clip units on the 2D map, seconds for `score`), cell (i, j) spanning
[(i*D)/N, ((j+1)*D)/N], inclusive IoU thresholds, means via math.fsum. Not collected by pytest
(no test_ prefix); loaded by tests/test_metrics.py and tests/bench/test_bench_metrics.py.
"""

import math


def ref_tiou(a, b):
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def ref_rank(cands, thresh, k):
    """cands: list of (start, end, score); indices of the first k moments greedy NMS keeps."""
    # Exact score ties: earlier start, then earlier end, then list order (sorted() is stable).
    ranked = sorted(range(len(cands)), key=lambda c: (-cands[c][2], cands[c][0], cands[c][1]))
    kept = []
    for c in ranked:
        if thresh is None or all(ref_tiou(cands[c], cands[o]) <= thresh for o in kept):
            kept.append(c)
            if len(kept) == k:
                break
    return kept


def ref_summary(top_tious, ks, ious):
    """top_tious: per query, the tIoUs of its kept moments in rank order."""
    q = len(top_tious)
    out = {}
    for k in ks:
        for m in ious:
            hits = sum(any(t >= m for t in tious[:k]) for tious in top_tious)
            out[f"R@{k},IoU={m:g}"] = hits / q * 100
    out["mIoU"] = math.fsum(t[0] if t else 0.0 for t in top_tious) / q * 100
    return out


def reference_evaluate(scores, mask, durations, gt, nms=0.5, ks=(1, 5), ious=(0.3, 0.5, 0.7)):
    """Per-query loop over 2D score maps (tensors or nested lists), as metrics.evaluate."""
    scores = scores.tolist() if hasattr(scores, "tolist") else scores
    mask = mask.tolist() if hasattr(mask, "tolist") else mask
    durations = durations.tolist() if hasattr(durations, "tolist") else durations
    gt = gt.tolist() if hasattr(gt, "tolist") else gt
    n = len(mask)
    cells = [(i, j) for i in range(n) for j in range(n) if mask[i][j]]
    top_tious = []
    for smap, d, g in zip(scores, durations, gt, strict=True):
        cands = [(i, j + 1, smap[i][j]) for i, j in cells]  # NMS in clip units
        kept = ref_rank(cands, nms, max(ks))
        top_tious.append([ref_tiou((cells[c][0] * d / n, (cells[c][1] + 1) * d / n), g) for c in kept])
    return ref_summary(top_tious, ks, ious)


def reference_score(pred, gt, nms=0.5, ks=(1, 5), ious=(0.3, 0.5, 0.7)):
    """Per-query loop over JSON-shaped predictions, as metrics.score (ground truth clamped)."""
    top_tious = []
    for qid, entry in gt.items():
        d = entry["duration"]
        g = (max(entry["moment"][0], 0.0), min(entry["moment"][1], d))
        cands = pred[qid]
        kept = ref_rank(cands, nms, max(ks))
        top_tious.append([ref_tiou(cands[c], g) for c in kept])
    return ref_summary(top_tious, ks, ious)
