"""MMN's losses against small cases computed by hand (scalar Python, no tensors)."""

import math

import pytest
import torch

from vdi_core.grounding.config import LossConfig
from vdi_core.grounding.losses import contrastive_losses, iou_bce_loss
from vdi_core.grounding.proposals import proposal_mask

MASK = proposal_mask(2, (1,))  # cells (0,0), (0,1), (1,1)
CELLS = [(0, 0), (0, 1), (1, 1)]


def test_iou_bce_hand_case():
    # One sentence, 3 valid cells; logits 0, 2, -1; IoUs 0.4, 0.75, 1.0 -> targets 0, 0.5, 1.
    logits = torch.zeros(1, 2, 2)
    ious = torch.zeros(1, 2, 2)
    for (i, j), lg, iou in zip(CELLS, [0.0, 2.0, -1.0], [0.4, 0.75, 1.0]):
        logits[0, i, j], ious[0, i, j] = lg, iou
    logits[0, 1, 0], ious[0, 1, 0] = 50.0, 1.0  # invalid cell: must not count
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expect = (-math.log(1 - sig(0.0)) - (0.5 * math.log(sig(2.0)) + 0.5 * math.log(1 - sig(2.0)))
              - math.log(sig(-1.0))) / 3
    got = iou_bce_loss(logits, ious, MASK, LossConfig(min_iou=0.5, max_iou=1.0))
    assert math.isclose(float(got), expect, rel_tol=1e-6)


def _norm(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _cos(a, b):
    return sum(x * y for x, y in zip(_norm(a), _norm(b)))


# Two videos, three sentences (s0, s1 in video 0; s2 in video 1), 2-d features.
VIDEO_CELLS = [[[1, 0], [0, 1], [1, 1]], [[-1, 0], [0, -1], [1, -1]]]
SENTS = [[1, 0], [0, 1], [-1, 0.5]]
VIDEO_OF = [0, 0, 1]
IOUS = [[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]]  # per sentence, per cell


def _reference(gt_iou_01, quirk, m=0.2, tv=0.5, ts=0.5):
    """The two losses written out term by term, as docs/REPRODUCTION_NOTES.md (MMN) states them."""
    loss_v, loss_s = 0.0, 0.0
    for i, s in enumerate(SENTS):
        own = VIDEO_OF[i]
        best = max(range(3), key=lambda c: IOUS[i][c])
        vpos = VIDEO_CELLS[own][best]
        pos = _cos(vpos, s) - m
        den = math.exp(pos / tv)
        for j, sj in enumerate(SENTS):
            if j == i:
                continue
            if VIDEO_OF[j] != own or gt_iou_01 < 0.5:
                den += math.exp(_cos(vpos, sj) / tv)
        loss_v += -(pos / tv - math.log(den))
        den = math.exp(pos / ts)
        for b, cells in enumerate(VIDEO_CELLS):
            for c, cell in enumerate(cells):
                if b != own or IOUS[i][c] < 0.5:
                    den += math.exp(_cos(s, cell) / ts)
                elif quirk:
                    den += 1.0  # MMN: similarity set to 0, so e^0 stays in the denominator
        loss_s += -(pos / ts - math.log(den + 1e-6))
    return loss_v / 3, loss_s / 3


def _tensors(gt_iou_01):
    maps = torch.zeros(2, 2, 2, 2)
    ious = torch.zeros(3, 2, 2)
    for b in range(2):
        for (i, j), vec in zip(CELLS, VIDEO_CELLS[b]):
            maps[b, :, i, j] = torch.tensor(vec, dtype=torch.float32)
    for q in range(3):
        for (i, j), iou in zip(CELLS, IOUS[q]):
            ious[q, i, j] = iou
    gt = torch.eye(3)
    gt[0, 1] = gt[1, 0] = gt_iou_01
    return maps, torch.tensor(SENTS), torch.tensor(VIDEO_OF), ious, gt


@pytest.mark.parametrize("gt_iou_01", [0.4, 0.5, 0.9])
@pytest.mark.parametrize("quirk", [True, False])
def test_contrastive_losses_hand_case(gt_iou_01, quirk):
    cfg = LossConfig(tau_video=0.5, tau_sent=0.5, margin=0.2, mmn_denominator_quirk=quirk)
    maps, sents, vof, ious, gt = _tensors(gt_iou_01)
    lv, ls = contrastive_losses(maps, sents, vof, ious, gt, MASK, cfg)
    ev, es = _reference(gt_iou_01, quirk)
    assert math.isclose(float(lv), ev, rel_tol=1e-5)
    assert math.isclose(float(ls), es, rel_tol=1e-5)


@pytest.mark.parametrize("gt_iou,excluded", [(0.49, False), (0.5, True), (0.8, True)])
def test_same_video_sentence_with_overlapping_gt_is_not_a_negative(gt_iou, excluded):
    """One video, two sentences: each anchor's only possible negative is the other sentence. When
    their ground truths overlap with IoU >= 0.5 it is excluded, the denominator is the positive
    alone and the video-anchored loss is exactly 0 whatever the features."""
    cfg = LossConfig(tau_video=0.5, tau_sent=0.5, margin=0.2)
    maps, sents, _, ious, _ = _tensors(0.0)
    gt = torch.tensor([[1.0, gt_iou], [gt_iou, 1.0]])
    lv, _ = contrastive_losses(maps[:1], sents[:2], torch.tensor([0, 0]), ious[:2], gt, MASK, cfg)
    if excluded:
        assert float(lv) == 0.0
    else:
        assert float(lv) > 0.1
