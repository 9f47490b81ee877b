"""MMN (Wang et al., AAAI 2022) as its public code defines it (docs/REPRODUCTION_NOTES.md, MMN).

Video side: FeatAvgPool (1x1 Conv1d + ReLU + AvgPool1d) -> SparseMaxPool 2D map -> masked
proposal conv stack -> two 1x1 heads (IoU branch, contrastive branch).
Text side: a text tower (DistilBERT or CLIP text) -> sentence feature -> LayerNorm -> two linear
heads. Scores are cosines between a sentence and every cell of its own video's maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .proposals import pooling_schedule, proposal_mask


class FeatAvgPool(nn.Module):
    """NUM_PRE_CLIPS -> NUM_CLIPS: Conv1d(d -> hidden, k=1) + ReLU, then AvgPool1d(k, stride k)."""

    def __init__(self, feature_dim: int, hidden_dim: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(feature_dim, hidden_dim, 1)
        self.pool = nn.AvgPool1d(kernel, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, P, d] -> [B, H, N]
        return self.pool(self.conv(x.transpose(1, 2)).relu())


class SparseMaxPool(nn.Module):
    """The sparse 2D map: clips on the diagonal, cell (i, j) = max over clips i..j, built by
    MMN's cascade of MaxPool1d steps (one per computed diagonal)."""

    def __init__(self, num_clips: int, pooling_counts):
        super().__init__()
        self.num_clips = num_clips
        self.steps = pooling_schedule(num_clips, pooling_counts)
        self.register_buffer("mask2d", proposal_mask(num_clips, pooling_counts), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, H, N] -> [B, H, N, N]
        B, H, N = x.shape
        map2d = x.new_zeros(B, H, N, N)
        diag = torch.arange(N, device=x.device)
        map2d[:, :, diag, diag] = x
        for step in self.steps:
            x = F.max_pool1d(x, step.kernel, step.pool_stride)
            i, j = step.cells(N)
            map2d[:, :, i, j] = x
        return map2d


def _masked_weights(mask: torch.Tensor, kernel: int, layers: int):
    """MMN's get_padded_mask_and_weight for every layer: after each conv the output is rescaled by
    1 / (valid cells under the kernel window) (0 where none) and the mask dilates."""
    first_pad = (kernel - 1) * layers // 2
    ones = torch.ones(1, 1, kernel, kernel)
    m = mask[None, None].float()
    weights = []
    for layer in range(layers):
        count = torch.round(F.conv2d(m, ones, padding=first_pad if layer == 0 else 0))
        w = torch.where(count > 0, 1.0 / count.clamp(min=1), torch.zeros_like(count))
        weights.append(w[0, 0])
        m = (w > 0).float()
    return first_pad, weights


class DifferenceMap(nn.Module):
    """A19 (not MMN): cell (i, j) gets W (x_j - x_i), the change of the clip features over the
    proposal, added to the max-pooled map before the proposal convs (cells outside the mask: 0)."""

    def __init__(self, hidden_dim: int, mask2d: torch.Tensor):
        super().__init__()
        self.proj = nn.Conv2d(hidden_dim, hidden_dim, 1)
        self.register_buffer("mask", mask2d.float(), persistent=False)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:  # [B, H, N] -> [B, H, N, N]
        diff = clips[:, :, None, :] - clips[:, :, :, None]  # [b, h, i, j] = x_j - x_i
        return self.proj(diff) * self.mask


class ProposalConv(nn.Module):
    """Conv2d + BatchNorm2d + ReLU stack; the first layer pads (K-1)*L/2 so the map keeps N x N."""

    def __init__(self, hidden_dim: int, joint_dim: int, kernel: int, layers: int, mask2d: torch.Tensor):
        super().__init__()
        first_pad, weights = _masked_weights(mask2d, kernel, layers)
        self.convs = nn.ModuleList(
            [nn.Conv2d(hidden_dim, hidden_dim, kernel, padding=first_pad if k == 0 else 0) for k in range(layers)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(hidden_dim) for _ in range(layers)])
        for k, w in enumerate(weights):
            self.register_buffer(f"weight{k}", w, persistent=False)
        self.iou_head = nn.Conv2d(hidden_dim, joint_dim, 1)
        self.contrastive_head = nn.Conv2d(hidden_dim, joint_dim, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for k, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = bn(conv(x)).relu() * getattr(self, f"weight{k}")
        return self.iou_head(x), self.contrastive_head(x)


class SentenceHeads(nn.Module):
    """MMN's text head: LayerNorm, then separate Linear(text_dim -> joint) for the two branches."""

    def __init__(self, text_dim: int, joint_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(text_dim)
        self.iou = nn.Linear(text_dim, joint_dim)
        self.contrastive = nn.Linear(text_dim, joint_dim)

    def forward(self, sentence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.norm(sentence)
        return self.iou(s), self.contrastive(s)


@dataclass
class MMNOutput:
    iou_logits: torch.Tensor  # [Q, N, N] 10 * cos(s_iou, v_iou(i, j)); sigmoid gives the IoU score
    contrastive_cos: torch.Tensor  # [Q, N, N] cos(s, v(i, j)) with the sentence's own video
    map_contrastive: torch.Tensor  # [B, J, N, N] contrastive map (unnormalised), for the losses
    sent_contrastive: torch.Tensor  # [Q, J] contrastive sentence feature (unnormalised)


class MMN(nn.Module):
    """The grounding head on top of precomputed frame features and a text tower's sentence feature."""

    def __init__(self, cfg: ModelConfig, feature_dim: int, text_dim: int, num_pre_clips: int):
        super().__init__()
        self.cfg = cfg
        self.feat_pool = FeatAvgPool(feature_dim, cfg.hidden_dim, num_pre_clips // cfg.num_clips)
        self.map2d = SparseMaxPool(cfg.num_clips, cfg.pooling_counts)
        self.proposal_conv = ProposalConv(cfg.hidden_dim, cfg.joint_dim, cfg.conv_kernel, cfg.conv_layers,
                                          self.map2d.mask2d)
        self.sentence_heads = SentenceHeads(text_dim, cfg.joint_dim)
        self.difference_map = DifferenceMap(cfg.hidden_dim, self.map2d.mask2d) if cfg.difference_map else None

    @property
    def mask2d(self) -> torch.Tensor:
        return self.map2d.mask2d

    def forward(self, feats: torch.Tensor, sentence: torch.Tensor, video_of: torch.Tensor) -> MMNOutput:
        """feats [B, P, d] pre-clip features of the batch's videos; sentence [Q, Dt];
        video_of [Q] row in the batch of each sentence's video."""
        clips = self.feat_pool(feats)
        map2d = self.map2d(clips)
        if self.difference_map is not None:
            map2d = map2d + self.difference_map(clips)
        map_iou, map_con = self.proposal_conv(map2d)
        s_iou, s_con = self.sentence_heads(sentence)
        mask = self.mask2d.to(map_iou.dtype)
        v_iou = F.normalize(map_iou, dim=1)[video_of]  # [Q, J, N, N]
        v_con = F.normalize(map_con, dim=1)[video_of]
        iou_cos = torch.einsum("qj,qjmn->qmn", F.normalize(s_iou, dim=-1), v_iou)
        con_cos = torch.einsum("qj,qjmn->qmn", F.normalize(s_con, dim=-1), v_con)
        return MMNOutput(iou_logits=10.0 * iou_cos * mask, contrastive_cos=con_cos * mask,
                         map_contrastive=map_con, sent_contrastive=s_con)


def final_scores(out: MMNOutput, mask2d: torch.Tensor) -> torch.Tensor:
    """MMN's inference score: sqrt(c * 0.5 + 0.5) * sigmoid(10 cos_iou), 0 outside the mask."""
    c = (out.contrastive_cos.float() * 0.5 + 0.5).clamp(min=0).sqrt()
    return c * torch.sigmoid(out.iou_logits.float()) * mask2d
