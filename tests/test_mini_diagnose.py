"""The verb/noun pair diagnostic of the mini profile, on hand-computed cases."""

import pytest
import torch

from vdi_core.errors import VdiError
from vdi_core.grounding.proposals import proposal_mask
from vdi_core.mini.diagnose import pair_accuracy, top1_moments

MOMENTS = [(0.0, 10.0), (20.0, 30.0), (40.0, 50.0)]


def test_a_model_that_finds_each_own_moment_scores_one():
    assert pair_accuracy(MOMENTS, MOMENTS, [[0, 1, 2]]) == (1.0, 6)


def test_the_same_answer_for_both_twins_scores_one_half():
    # both queries point at the first moment: query 0 wins (tIoU 1 vs 0), query 1 loses (0 vs 1)
    assert pair_accuracy([(0.0, 10.0), (0.0, 10.0)], MOMENTS[:2], [[0, 1]]) == (0.5, 2)
    # both point between the moments: a tie each (tIoU 0 vs 0)
    assert pair_accuracy([(12.0, 18.0), (12.0, 18.0)], MOMENTS[:2], [[0, 1]]) == (0.5, 2)


def test_overlapping_twins_and_singletons_are_not_compared():
    moments = [(0.0, 10.0), (1.0, 11.0), (20.0, 30.0)]  # 0 and 1 overlap (tIoU 9/11)
    with pytest.raises(VdiError, match="no query pairs"):
        pair_accuracy(moments, moments, [[0, 1], [2]])
    assert pair_accuracy([(0.0, 10.0), (0.0, 10.0), (20.0, 30.0)], moments, [[0, 1, 2]])[1] == 4


def test_top1_moments_picks_the_best_valid_cell_in_seconds():
    n = 4
    mask = proposal_mask(n, (3,))
    scores = torch.zeros(2, n, n)
    scores[0, 1, 2] = 5.0  # clips 1..2 of a 40 s video -> 10..30 s
    scores[1, 3, 0] = 9.0  # i > j is never valid
    scores[1, 0, 3] = 1.0  # the whole 20 s video
    assert top1_moments(scores, mask, torch.tensor([40.0, 20.0])) == [(10.0, 30.0), (0.0, 20.0)]
