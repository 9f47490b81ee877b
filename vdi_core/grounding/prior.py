"""The fixed-proposal prior: the reference row that shows what grounding learns beyond where
moments usually are (docs/ENGINEERING_NOTES.md section 3, pitfall 2). No training and no text: every valid cell of
the 2D map gets a score from the *train* split, R@1 IoU=0.5 + R@1 IoU=0.7 it would get if it were
always predicted (A16's criterion; its mean IoU breaks ties), and the eval queries are ranked by
those scores, the same for every query. The top cell is "the best single fixed proposal"."""

from __future__ import annotations

import torch

from ..metrics import evaluate
from .dataset import PreparedSplit
from .proposals import iou_with_cells, proposal_mask


def prior_cell_scores(train: PreparedSplit, num_clips: int, pooling_counts) -> torch.Tensor:
    """[N, N] score per cell from the train split (0 outside the valid mask)."""
    durations = train.durations[train.video_of].double()
    ious = iou_with_cells(train.moments.double(), num_clips, durations)  # [Q, N, N]
    score = (ious >= 0.5).double().mean(0) + (ious >= 0.7).double().mean(0) + 1e-3 * ious.mean(0)
    return score * proposal_mask(num_clips, pooling_counts)


def evaluate_prior(train: PreparedSplit, eval_split: PreparedSplit, num_clips: int, pooling_counts,
                   nms: float = 0.5) -> tuple[dict[str, float], tuple[float, float]]:
    """(metrics on eval, the best cell as a normalised [start, end])."""
    cell = prior_cell_scores(train, num_clips, pooling_counts)
    mask = proposal_mask(num_clips, pooling_counts)
    scores = cell.expand(eval_split.num_queries, num_clips, num_clips).float()
    metrics = evaluate(scores, mask, eval_split.durations[eval_split.video_of], eval_split.moments, nms=nms)
    flat = int(torch.argmax(cell))
    i, j = divmod(flat, num_clips)
    return metrics, (i / num_clips, (j + 1) / num_clips)
