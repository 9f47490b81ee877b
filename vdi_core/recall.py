"""The grounding metrics' names (R@k,IoU=m and mIoU) and their summary over kept moments, in numpy.

`metrics.evaluate` (torch, training and evaluation) and `predictions.metrics_of` (numpy: rendering,
claims and `vdi results` read stored predictions without importing torch) both name their metrics
from here; `summarise` does the same float64 comparisons and the same `math.fsum` as
`metrics._summarise`, so both give the same bits.
"""

from __future__ import annotations

import math

import numpy as np

KS = (1, 5)
IOUS = (0.3, 0.5, 0.7)


def metric_keys(ks=KS, ious=IOUS) -> list[str]:
    """Result keys in output order: 'R@1,IoU=0.3', ..., 'R@5,IoU=0.7', 'mIoU'."""
    return [f"R@{k},IoU={m:g}" for k in ks for m in ious] + ["mIoU"]


def summarise(top_tiou: np.ndarray, exists: np.ndarray, ks=KS, ious=IOUS) -> dict[str, float]:
    """top_tiou/exists [Q, k] for the kept moments in rank order -> the metrics dict (x100)."""
    q_count = top_tiou.shape[0]
    t = np.where(exists, np.asarray(top_tiou, dtype=np.float64), -1.0)  # a missing candidate reaches nothing
    out = {}
    for k in ks:
        for m in ious:
            hits = int((t[:, :k] >= m).any(axis=1).sum())
            out[f"R@{k},IoU={m:g}"] = hits / q_count * 100
    out["mIoU"] = math.fsum(np.clip(t[:, 0], 0.0, None).tolist()) / q_count * 100
    return out
