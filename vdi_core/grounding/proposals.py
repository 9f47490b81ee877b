"""Geometry of MMN's sparse 2D proposal map (docs/REPRODUCTION_NOTES.md, MMN).

Cell (i, j), i <= j, of an N x N map is the proposal that starts at clip i and ends after clip j,
i.e. the time span [i*D/N, (j+1)*D/N] of a video of duration D. The diagonal holds the N clip
features; cell (i, j) is the max-pool of clips i..j. Only some cells are computed: `pooling_counts`
lists groups of successive diagonals, and the spacing between computed cells doubles from one
group to the next, so long proposals are sampled more coarsely (as in MMN's SparseMaxPool).

Pooling schedule (what the model needs to fill the map; one `PoolingStep` per diagonal in order):
start from the clip features x[0..N-1] (the diagonal, offset 0) and apply, one after another,
`MaxPool1d(step.kernel, step.pool_stride)` to the running sequence; after step s the sequence
element m is the max of clips  step.stride*m .. step.stride*m + step.offset  and belongs in cell
(i, j) = (step.stride*m, step.stride*m + step.offset), i.e. `step.cells(N)`. Kernel/stride are
(2, 1) inside a group, and (3, 2) for the first diagonal of every later group (it merges three
cells of the previous, half-as-dense diagonal). For N=16, [15]: 15 steps of (2, 1), offsets 1..15,
136 valid cells. For N=64, [15, 8, 8]: offsets 1..15 at stride 1, 17, 19, .., 31 at stride 2,
35, 39, .., 63 at stride 4; 1104 valid cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

from ..errors import VdiError


@dataclass(frozen=True)
class PoolingStep:
    """One computed diagonal of the 2D map and the max-pool that produces it.

    offset: j - i of this diagonal's cells.
    stride: spacing of its cells' start clips i (0, stride, 2*stride, ...).
    kernel, pool_stride: the MaxPool1d applied to the previous step's output to get this one.
    """

    offset: int
    stride: int
    kernel: int
    pool_stride: int

    def cells(self, num_clips: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(i, j) index tensors of this diagonal's cells, in the order the pooled sequence has them."""
        i = torch.arange(0, num_clips - self.offset, self.stride)
        return i, i + self.offset


def _check_num_clips(num_clips) -> None:
    if isinstance(num_clips, bool) or not isinstance(num_clips, int) or num_clips < 1:
        raise VdiError(f"num_clips must be a positive integer, got {num_clips!r}; "
                       "use 16 for Charades-STA or 64 for ActivityNet (MMN)")


@cache
def _schedule(num_clips: int, counts: tuple[int, ...]) -> tuple[PoolingStep, ...]:
    steps = []
    offset, stride = 0, 1
    for group, count in enumerate(counts):
        for k in range(count):
            offset += stride
            # The first diagonal of a later group pools 3 cells of the previous (stride/2) diagonal
            # with stride 2; every other diagonal grows the previous one by one cell.
            first_of_later_group = group > 0 and k == 0
            kernel, pool_stride = (3, 2) if first_of_later_group else (2, 1)
            steps.append(PoolingStep(offset, stride, kernel, pool_stride))
        stride *= 2
    if steps and steps[-1].offset >= num_clips:
        raise VdiError(
            f"pooling_counts {list(counts)} reach diagonal offset {steps[-1].offset}, but a map of "
            f"num_clips={num_clips} has offsets 0..{num_clips - 1}; use fewer pooling counts "
            "(MMN: [15] for N=16, [15, 8, 8] for N=64)")
    return tuple(steps)


def pooling_schedule(num_clips: int, pooling_counts) -> tuple[PoolingStep, ...]:
    """The computed diagonals (excluding the main diagonal, offset 0) in pooling order."""
    _check_num_clips(num_clips)
    counts = tuple(pooling_counts)
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in counts):
        raise VdiError(f"pooling_counts must be positive integers, got {list(counts)}; "
                       "MMN uses [15] for Charades-STA and [15, 8, 8] for ActivityNet")
    return _schedule(num_clips, counts)


def proposal_mask(num_clips: int, pooling_counts) -> torch.Tensor:
    """BoolTensor [N, N]: True on the cells the sparse 2D map computes (the valid proposals)."""
    steps = pooling_schedule(num_clips, pooling_counts)
    mask = torch.zeros(num_clips, num_clips, dtype=torch.bool)
    diag = torch.arange(num_clips)
    mask[diag, diag] = True
    for step in steps:
        i, j = step.cells(num_clips)
        mask[i, j] = True
    return mask


def _durations(duration) -> torch.Tensor:
    d = torch.as_tensor(duration, dtype=torch.float64)
    bad = ~(torch.isfinite(d) & (d > 0))
    if bad.any():
        where = f" at index {tuple(bad.nonzero()[0].tolist())}" if d.dim() else ""
        raise VdiError(f"video duration must be finite and > 0 seconds, got {d[bad][0].item()}{where}; "
                       "check the annotation's duration field")
    return d


def cell_times(num_clips: int, duration) -> torch.Tensor:
    """Float64 tensor [..., N, N, 2]: cell (i, j) -> [i*D/N, (j+1)*D/N] seconds.

    `duration` is a number or a tensor of shape [...] (one per video); every cell gets a time span,
    including invalid ones and i > j (where start >= end) -- combine with `proposal_mask`.
    The products are formed as (i*D)/N so the evaluator and its references agree to the bit.
    """
    _check_num_clips(num_clips)
    d = _durations(duration)[..., None]  # [..., 1]
    edges = torch.arange(num_clips + 1, dtype=torch.float64, device=d.device) * d / num_clips  # [..., N+1]
    n = num_clips
    start = edges[..., :n, None].expand(*d.shape[:-1], n, n)
    end = edges[..., None, 1:].expand(*d.shape[:-1], n, n)
    return torch.stack([start, end], dim=-1)


def iou_with_cells(moment, num_clips: int, duration) -> torch.Tensor:
    """Float64 tensor [..., N, N]: tIoU of a ground-truth moment [s, e] (seconds) with every cell.

    `moment` is [2] or [..., 2] with `duration` a number or [...]; cells with i > j get 0 (they
    are empty spans, as in MMN's moment_to_iou2d). Used for the IoU-BCE targets and the
    contrastive exclusions (same-video proposals / sentences with IoU >= 0.5).
    """
    m = torch.as_tensor(moment, dtype=torch.float64)
    if m.shape[-1:] != (2,):
        raise VdiError(f"moment must have shape [..., 2] (start, end in seconds), got {tuple(m.shape)}")
    bad = ~(torch.isfinite(m).all(dim=-1) & (m[..., 1] > m[..., 0]))
    if bad.any():
        where = f" at index {tuple(bad.nonzero()[0].tolist())}" if bad.dim() else ""
        raise VdiError(f"moment must be finite with end > start, got {m[bad][0].tolist()}{where}; "
                       "drop start >= end moments when loading (MMN does)")
    times = cell_times(num_clips, _durations(duration).to(m.device))
    s, e = m[..., 0, None, None], m[..., 1, None, None]
    inter = (torch.minimum(times[..., 1], e) - torch.maximum(times[..., 0], s)).clamp(min=0)
    union = torch.maximum(times[..., 1], e) - torch.minimum(times[..., 0], s)
    iou = inter / union
    upper = torch.ones(num_clips, num_clips, dtype=torch.bool, device=m.device).triu()
    return iou.masked_fill(~upper, 0.0)
