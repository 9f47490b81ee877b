"""MMN's losses: IoU-scaled BCE and the two mutual-matching contrastive losses (docs/REPRODUCTION_NOTES.md, MMN).

Notation: Q sentences in the batch, B videos, C valid cells per map, `video_of[q]` the batch
row of sentence q's video. The positive proposal v+ of a sentence is its highest-IoU cell.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import LossConfig


def iou_bce_loss(iou_logits: torch.Tensor, ious: torch.Tensor, mask2d: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Mean BCE over the valid cells of every sentence; target clamp((IoU-min)/(max-min), 0, 1).
    `iou_logits` = 10*cos, so sigmoid(logits) is MMN's score (with-logits form for stability)."""
    target = ((ious - cfg.min_iou) / (cfg.max_iou - cfg.min_iou)).clamp(0, 1)
    logits = iou_logits.float()[:, mask2d]
    return F.binary_cross_entropy_with_logits(logits, target[:, mask2d].to(logits.dtype))


def contrastive_losses(map_contrastive: torch.Tensor, sent_contrastive: torch.Tensor, video_of: torch.Tensor,
                       ious: torch.Tensor, gt_iou: torch.Tensor, mask2d: torch.Tensor,
                       cfg: LossConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(video-anchored, sentence-anchored) contrastive losses.

    map_contrastive [B, J, N, N]; sent_contrastive [Q, J]; ious [Q, N, N] each sentence's IoU
    with every cell of its own video; gt_iou [Q, Q] tIoU between the sentences' ground truths
    (only same-video pairs are read).
    """
    B, J = map_contrastive.shape[:2]
    Q = sent_contrastive.shape[0]
    cells = F.normalize(map_contrastive.float()[:, :, mask2d], dim=1)  # [B, J, C]
    sents = F.normalize(sent_contrastive.float(), dim=1)  # [Q, J]
    iou1d = ious[:, mask2d]  # [Q, C]
    C = iou1d.shape[1]
    pos_idx = iou1d.argmax(dim=1)  # the highest-IoU cell (MMN's top-1)
    v_pos = cells[video_of, :, pos_idx]  # [Q, J]
    pos = (v_pos * sents).sum(-1) - cfg.margin  # cos(v+, s_i) - m
    eye = torch.eye(Q, dtype=torch.bool, device=sents.device)
    same_video = video_of[:, None] == video_of[None, :]

    # Video-anchored: v+ of sentence i against every sentence j of another video, and against a
    # same-video sentence only when the two ground truths overlap with IoU < 0.5.
    vid_sim = v_pos @ sents.t() / cfg.tau_video  # [Q, Q]
    keep = ~same_video | (gt_iou < cfg.negative_iou)
    keep = keep & ~eye
    vid_logits = torch.where(eye, pos[:, None].expand(Q, Q) / cfg.tau_video, vid_sim)
    vid_logits = vid_logits.masked_fill(~(keep | eye), float("-inf"))
    loss_video = -(pos / cfg.tau_video - torch.logsumexp(vid_logits, dim=1)).mean()

    # Sentence-anchored: s_i against v+ (with margin), every proposal of every other video, and the
    # proposals of its own video with IoU < 0.5 to its ground truth. MMN zeroes the similarity of
    # the excluded same-video proposals instead of removing them (the denominator quirk).
    sim_all = torch.einsum("qj,bjc->qbc", sents, cells)  # [Q, B, C]
    own = F.one_hot(video_of, B).bool()[:, :, None].expand(Q, B, C)
    excluded = own & (iou1d >= cfg.negative_iou)[:, None, :]
    if cfg.mmn_denominator_quirk:
        sim_all = sim_all.masked_fill(excluded, 0.0)
        neg_logits = sim_all / cfg.tau_sent
    else:
        neg_logits = (sim_all / cfg.tau_sent).masked_fill(excluded, float("-inf"))
    sent_logits = torch.cat([(pos / cfg.tau_sent)[:, None], neg_logits.reshape(Q, B * C)], dim=1)
    # MMN adds 1e-6 inside the log of the sentence-anchored denominator.
    denom = torch.exp(sent_logits).sum(dim=1) + 1e-6
    loss_sent = -(pos / cfg.tau_sent - torch.log(denom)).mean()
    return loss_video, loss_sent
