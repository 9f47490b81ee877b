"""The whole trainable model: text tower + MMN + (optionally) VDI's injection, and what one batch
of whole videos costs (`batch_losses`) or scores (`batch_scores`).

With lambda_vc = lambda_sd = 0 no VDI module is built and no VDI code runs, so the model is
exactly the MMN baseline (same parameters, same random draws, same numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..metrics import tiou
from ..vdi.injection import Injection, moment_segments
from ..vdi.queries import QueryParser, pooled_query, random_half, token_selection
from .config import GroundingConfig
from .dataset import PreparedSplit
from .losses import contrastive_losses, iou_bce_loss
from .model import MMN, final_scores
from .proposals import iou_with_cells


@dataclass
class Batch:
    feats: torch.Tensor  # [B, P, d]
    sentences: list[str]  # [Q]
    video_of: torch.Tensor  # [Q] row in this batch
    ious: torch.Tensor  # [Q, N, N]
    gt_iou: torch.Tensor  # [Q, Q]
    in_moment: torch.Tensor  # [Q, P]
    dynamic: torch.Tensor | None  # [Q, d]
    query_index: torch.Tensor  # [Q] index in the split


def make_batch(split: PreparedSplit, rows: torch.Tensor, num_clips: int, device) -> Batch:
    q = split.queries_of(rows)
    local = torch.full((len(split.vids),), -1, dtype=torch.long)
    local[rows] = torch.arange(len(rows))
    vof = local[split.video_of[q]]
    moments, durations = split.moments[q], split.durations[split.video_of[q]]
    ious = iou_with_cells(moments.double(), num_clips, durations.double()).float()
    return Batch(
        feats=split.feats[rows].to(device), sentences=[split.sentences[i] for i in q.tolist()],
        video_of=vof.to(device), ious=ious.to(device),
        gt_iou=tiou(moments[:, None], moments[None, :]).float().to(device),
        in_moment=moment_segments(moments, durations, split.feats.shape[1]).to(device),
        dynamic=None if split.dynamic is None else split.dynamic[q].to(device), query_index=q)


def wants_vdi(cfg: GroundingConfig) -> bool:
    return cfg.vdi.lambda_vc > 0 or cfg.vdi.lambda_sd > 0


class GroundingSystem(nn.Module):
    def __init__(self, cfg: GroundingConfig, text_tower: nn.Module, feature_dim: int, seed: int = 0):
        super().__init__()
        self.cfg = cfg
        self.seed = seed
        self.text = text_tower
        self.mmn = MMN(cfg.model, feature_dim, text_tower.dim, cfg.data.num_pre_clips)
        self.injection = Injection(cfg.vdi, text_tower.dim, feature_dim) if wants_vdi(cfg) else None
        self.parser = QueryParser(cfg.vdi.spacy_model) if wants_vdi(cfg) else None
        self.text_frozen = False

    def encode(self, sentences: list[str]):
        if self.text_frozen:
            with torch.no_grad():
                return self.text(sentences)
        return self.text(sentences)

    def forward(self, batch: Batch):
        enc = self.encode(batch.sentences)
        return enc, self.mmn(batch.feats, enc.sentence, batch.video_of)

    def batch_losses(self, batch: Batch, epoch: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        enc, out = self(batch)
        mask = self.mmn.mask2d
        losses = {"iou": iou_bce_loss(out.iou_logits, batch.ious, mask, cfg.loss)}
        losses["video"], losses["sent"] = contrastive_losses(
            out.map_contrastive, out.sent_contrastive, batch.video_of, batch.ious, batch.gt_iou, mask, cfg.loss)
        # MMN's schedule: the contrastive term drops to 1% after the switch epoch.
        weight = cfg.loss.weight * (0.01 if epoch > cfg.train.switch_epoch else 1.0)
        total = losses["iou"] + weight * (losses["video"] + losses["sent"])
        if self.injection is not None:
            vdi = self._injection_losses(enc, batch)
            for name, lam in (("vc", cfg.vdi.lambda_vc), ("sd", cfg.vdi.lambda_sd)):
                if name in vdi:
                    losses[name] = vdi[name]
                    losses[f"n_{name}"] = vdi[f"n_{name}"].float()
                    total = total + lam * vdi[name]
        losses["total"] = total
        return losses

    def _injection_losses(self, enc, batch: Batch) -> dict[str, torch.Tensor]:
        cfg = self.cfg.vdi
        texts = list(enc.texts)
        words = self.parser(texts)
        if cfg.context_query == "random_half":
            words = [random_half(w, t, self.seed) for w, t in zip(words, texts)]
        L = enc.tokens.shape[1]
        sel_static = token_selection([w.static for w in words], enc.spans, L)
        sel_dynamic = token_selection([w.dynamic for w in words], enc.spans, L)
        q_static, static_valid = pooled_query(enc.tokens, sel_static)
        q_dynamic, dynamic_valid = pooled_query(enc.tokens, sel_dynamic)
        if cfg.inject_into == "sentence":  # A9: the whole sentence's feature takes q^d's place
            q_inject = enc.sentence
            inject_valid = torch.ones_like(dynamic_valid)
        else:
            q_inject, inject_valid = q_dynamic, dynamic_valid
        return self.injection(q_static=q_static, static_valid=static_valid, q_inject=q_inject,
                              inject_valid=inject_valid, frames=batch.feats[batch.video_of],
                              in_moment=batch.in_moment, dynamic=batch.dynamic)

    @torch.no_grad()
    def batch_scores(self, batch: Batch) -> torch.Tensor:
        _, out = self(batch)
        return final_scores(out, self.mmn.mask2d)
