"""MMN's sparse 2D proposal map: mask counts, the pooling schedule, cell -> time, IoU with cells."""

import pytest
import torch

from vdi_core.errors import VdiError
from vdi_core.grounding.proposals import PoolingStep, cell_times, iou_with_cells, pooling_schedule, proposal_mask
from vdi_core.metrics import tiou


def test_mask_counts_match_mmn():
    assert int(proposal_mask(16, [15]).sum()) == 136
    assert int(proposal_mask(64, [15, 8, 8]).sum()) == 1104


def test_charades_mask_is_the_full_upper_triangle():
    mask = proposal_mask(16, [15])
    assert mask.dtype == torch.bool and mask.shape == (16, 16)
    assert torch.equal(mask, torch.ones(16, 16, dtype=torch.bool).triu())


def test_activitynet_mask_sparse_cells():
    mask = proposal_mask(64, [15, 8, 8])
    # group 1: every cell with j - i <= 15
    assert mask[63, 63] and mask[48, 63] and mask[10, 25]
    assert not mask[10, 26]  # offset 16 is skipped
    # group 2: offsets 17..31 odd, starts i even
    assert mask[0, 17] and mask[2, 19] and mask[32, 63]
    assert not mask[1, 18] and not mask[0, 18]
    # group 3: offsets 35, 39, .., 63, starts i multiples of 4
    assert mask[0, 35] and mask[4, 39] and mask[0, 63] and mask[28, 63]
    assert not mask[2, 37] and not mask[0, 37] and not mask[1, 63]
    assert not mask.tril(-1).any()
    # per-offset counts, hand-computed from ceil((64 - offset) / stride)
    counts = {off: int(mask.diagonal(off).sum()) for off in range(64)}
    assert counts[0] == 64 and counts[15] == 49 and counts[16] == 0
    assert counts[17] == 24 and counts[31] == 17 and counts[33] == 0
    assert counts[35] == 8 and counts[63] == 1


def test_schedule_offsets_strides_and_poolers():
    steps = pooling_schedule(64, [15, 8, 8])
    assert [s.offset for s in steps] == list(range(1, 16)) + list(range(17, 32, 2)) + list(range(35, 64, 4))
    assert [s.stride for s in steps] == [1] * 15 + [2] * 8 + [4] * 8
    pools = [(s.kernel, s.pool_stride) for s in steps]
    assert pools[15] == (3, 2) and pools[23] == (3, 2)
    assert pools.count((3, 2)) == 2 and pools.count((2, 1)) == 29
    assert steps[15] == PoolingStep(offset=17, stride=2, kernel=3, pool_stride=2)
    i, j = steps[15].cells(64)
    assert i.tolist() == list(range(0, 47, 2)) and torch.equal(j - i, torch.full_like(i, 17))


@pytest.mark.parametrize("n,counts", [(16, [15]), (64, [15, 8, 8]), (16, [7, 4])])
def test_applying_the_schedule_gives_the_max_over_each_cell(n, counts):
    # What the model does with the schedule: MaxPool1d step by step, writing each step's output
    # into its cells. Every valid cell must hold the max of clips i..j.
    torch.manual_seed(0)
    x = torch.randn(2, 3, n)
    map2d = torch.zeros(2, 3, n, n)
    map2d[:, :, range(n), range(n)] = x
    running = x
    for step in pooling_schedule(n, counts):
        running = torch.nn.functional.max_pool1d(running, step.kernel, step.pool_stride)
        i, j = step.cells(n)
        assert running.shape[-1] == len(i), step
        map2d[:, :, i, j] = running
    mask = proposal_mask(n, counts)
    for i, j in mask.nonzero().tolist():
        assert torch.equal(map2d[:, :, i, j], x[:, :, i:j + 1].amax(dim=-1)), (i, j)


def test_bad_schedules_raise():
    with pytest.raises(VdiError, match="offset 17"):
        proposal_mask(16, [15, 1])  # the next group starts at offset 15 + 2
    with pytest.raises(VdiError, match="offset 16"):
        proposal_mask(16, [16])
    with pytest.raises(VdiError, match="pooling_counts"):
        proposal_mask(16, [0])
    with pytest.raises(VdiError, match="num_clips"):
        proposal_mask(0, [1])
    with pytest.raises(VdiError, match="num_clips"):
        pooling_schedule(16.0, [15])


def test_cell_times_map_cells_to_seconds():
    t = cell_times(16, 32.0)
    assert t.shape == (16, 16, 2) and t.dtype == torch.float64
    assert t[0, 0].tolist() == [0.0, 2.0]
    assert t[3, 7].tolist() == [6.0, 16.0]
    assert t[0, 15].tolist() == [0.0, 32.0]
    assert t[15, 15].tolist() == [30.0, 32.0]
    # a non-dyadic duration: (i*D)/N exactly as the evaluator forms it
    d = 29.87
    assert cell_times(16, d)[5, 9].tolist() == [5 * d / 16, 10 * d / 16]


def test_cell_times_batched_over_videos():
    t = cell_times(4, torch.tensor([8.0, 4.0]))
    assert t.shape == (2, 4, 4, 2)
    assert t[0, 1, 2].tolist() == [2.0, 6.0] and t[1, 1, 2].tolist() == [1.0, 3.0]
    with pytest.raises(VdiError, match="duration"):
        cell_times(4, 0.0)
    with pytest.raises(VdiError, match="duration"):
        cell_times(4, float("nan"))
    with pytest.raises(VdiError, match=r"got -1.0 at index \(1,\)"):
        cell_times(4, [3.0, -1.0])


def test_iou_with_cells_hand_computed():
    # N=4, D=8: cell (i, j) = [2i, 2j + 2]; moment [2, 6]
    iou = iou_with_cells([2.0, 6.0], 4, 8.0)
    assert iou.shape == (4, 4)
    assert iou[1, 2] == 1.0          # [2, 6]
    assert iou[0, 0] == 0.0          # [0, 2] touches only
    assert iou[1, 1] == 0.5          # [2, 4]
    assert iou[0, 1] == pytest.approx(2 / 6)   # [0, 4]
    assert iou[2, 3] == pytest.approx(2 / 6)   # [4, 8]
    assert iou[0, 3] == 0.5          # [0, 8]
    assert not iou.tril(-1).any()


def test_iou_with_cells_agrees_with_tiou_and_batches():
    moments = torch.tensor([[1.3, 7.9], [0.0, 30.0]])
    durations = torch.tensor([12.5, 30.0])
    batched = iou_with_cells(moments, 16, durations)
    assert batched.shape == (2, 16, 16)
    for q in range(2):
        single = iou_with_cells(moments[q], 16, float(durations[q]))
        assert torch.equal(batched[q], single)
        upper = torch.ones(16, 16, dtype=torch.bool).triu()
        expect = tiou(cell_times(16, float(durations[q])), moments[q])
        assert torch.equal(single[upper], expect[upper])
    assert batched[1, 0, 15] == 1.0


def test_iou_with_cells_rejects_bad_moments():
    with pytest.raises(VdiError, match="end > start"):
        iou_with_cells([5.0, 5.0], 16, 30.0)
    with pytest.raises(VdiError, match=r"got \[4.0, 3.0\] at index \(1,\)"):
        iou_with_cells([[1.0, 2.0], [4.0, 3.0]], 16, [30.0, 30.0])
    with pytest.raises(VdiError, match="shape"):
        iou_with_cells([1.0, 2.0, 3.0], 16, 30.0)
