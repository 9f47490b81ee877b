"""Verb pairs and noun pairs: does a grounding model read the verbs, the nouns, or neither?

A data source that knows who does what in its videos (the mini world does; real annotations do
not) tags each query with its actor and verb (`Query.actor`, `Query.verb`). For every ordered pair
of queries (i, j) in one video about the same actor with another verb (verb pairs), or with the
same verb about another actor (noun pairs), whose moments overlap by at most `MAX_OVERLAP` tIoU,
query i scores 1 when its top-1 proposal overlaps its own moment more than its twin's, 0.5 on a
tie. A model blind to verbs scores 0.5 on verb pairs whatever else it knows; likewise for nouns.
Scale 0-1 (0.5 = blind). See docs/PREMISE.md.
"""

from __future__ import annotations

from collections import defaultdict

import torch

from ..datatypes import Video
from .proposals import cell_times

MAX_OVERLAP = 0.3  # twins whose moments overlap more than this are not told apart by any prediction
PAIR_METRICS = ("verb_pairs", "noun_pairs")


def tiou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def _pairs(moments, groups, max_overlap: float):
    for members in groups:
        for i in members:
            for j in members:
                if i != j and tiou(moments[i], moments[j]) <= max_overlap:
                    yield i, j


def pair_outcomes(pred, moments, groups, max_overlap: float = MAX_OVERLAP) -> list[float]:
    """[tIoU(pred_i, m_i) > tIoU(pred_i, m_j)] (0.5 on a tie) for every ordered pair (i, j) of each
    group, in a fixed order: the per-item evidence behind the pair metrics (`vdi_core/claims.py`)."""
    out = []
    for i, j in _pairs(moments, groups, max_overlap):
        own, twin = tiou(pred[i], moments[i]), tiou(pred[i], moments[j])
        out.append(0.5 if own == twin else float(own > twin))
    return out


def pair_accuracy(pred, moments, groups, max_overlap: float = MAX_OVERLAP) -> tuple[float | None, int]:
    """Mean over the ordered pairs (i, j) of each group of [tIoU(pred_i, m_i) > tIoU(pred_i, m_j)]
    (0.5 on a tie), and the number of pairs; None when there is no pair to compare."""
    out = pair_outcomes(pred, moments, groups, max_overlap)
    return (sum(out) / len(out) if out else None), len(out)


def top1_moments(scores: torch.Tensor, mask: torch.Tensor, durations: torch.Tensor) -> list[tuple[float, float]]:
    """The best valid cell of each [N, N] score map, in seconds (the R@1 prediction before NMS,
    which does not change the top-1)."""
    q, n = scores.shape[0], scores.shape[1]
    best = scores.masked_fill(~mask, float("-inf")).reshape(q, n * n).argmax(1)
    times = cell_times(n, durations).reshape(q, n * n, 2)
    return [tuple(t) for t in times[torch.arange(q), best].tolist()]


def pair_groups(videos: list[Video], qids: list[str]) -> dict[str, list[list[int]]] | None:
    """{"verb_pairs": groups of query rows about one actor of one video, "noun_pairs": groups with
    one verb in one video}, rows indexing `qids` (the prepared split's order, skips removed);
    None when the source tags no query."""
    tags = {q.qid: (v.vid, q.actor, q.verb) for v in videos for q in v.queries
            if q.actor is not None and q.verb is not None}
    if not tags:
        return None
    by_actor, by_verb = defaultdict(list), defaultdict(list)
    for row, qid in enumerate(qids):
        if qid in tags:
            vid, actor, verb = tags[qid]
            by_actor[(vid, actor)].append(row)
            by_verb[(vid, verb)].append(row)
    return {"verb_pairs": list(by_actor.values()), "noun_pairs": list(by_verb.values())}


def pair_counts(groups: dict[str, list[list[int]]], moments: torch.Tensor) -> dict[str, int]:
    m = moments.tolist()
    return {name: sum(1 for _ in _pairs(m, g, MAX_OVERLAP)) for name, g in groups.items()}


def pair_metrics(scores: torch.Tensor, mask: torch.Tensor, durations: torch.Tensor, moments: torch.Tensor,
                 groups: dict[str, list[list[int]]]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The pair accuracies of these score maps and their per-pair outcomes (the accuracy is the
    outcomes' mean); a metric with no pair in the split is left out of both."""
    pred = top1_moments(scores, mask, durations)
    metrics, outcomes = {}, {}
    for name, g in groups.items():
        out = pair_outcomes(pred, moments.tolist(), g)
        if out:
            metrics[name], outcomes[name] = sum(out) / len(out), out
    return metrics, outcomes
