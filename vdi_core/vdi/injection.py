"""VDI's two injection losses on top of MMN (docs/REPRODUCTION_NOTES.md, S3 and A5-A9, A11).

L^vc (visual context injection): the dynamic query q^d is aligned with a visual context c that
the static query q^s picks out of the ground-truth moment (A5). L^sd (spatial dynamic injection):
q^d is aligned with a spatial dynamic feature d computed from patch differences inside the
moment (A7), or from frame differences when there are no patch features (A11). Each alignment
is "consistent" (pull q^d toward its own target) or "relational" (the batch's pairwise relations
among the q^d's match those among the targets) (A6, A8). Targets are stop-gradient: only the
text side learns from them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .forms import INJECTION_FORMS
from .settings import VdiConfig


def moment_segments(moments: torch.Tensor, durations: torch.Tensor, num_segments: int) -> torch.Tensor:
    """BoolTensor [Q, P]: pre-clip segments whose centre lies in the moment; the segment holding
    the moment's midpoint is always included, so a short moment still has one."""
    centre = (torch.arange(num_segments, dtype=torch.float32) + 0.5) / num_segments  # [P]
    s = (moments[:, 0] / durations)[:, None]
    e = (moments[:, 1] / durations)[:, None]
    inside = (centre >= s) & (centre <= e)
    mid = ((s + e) / 2 * num_segments).floor().long().clamp(0, num_segments - 1)
    inside[torch.arange(len(moments)), mid[:, 0]] = True
    return inside


def visual_context(q_static: torch.Tensor, frames: torch.Tensor, in_moment: torch.Tensor, tau: float) -> torch.Tensor:
    """A5: c = sum_t a_t x_t with a_t = softmax_t(cos(q^s, x_t) / tau) over the moment's frames.
    q_static [Q, d]; frames [Q, P, d]; in_moment [Q, P] -> [Q, d]."""
    cos = torch.einsum("qd,qpd->qp", F.normalize(q_static, dim=-1), F.normalize(frames, dim=-1))
    attn = torch.softmax((cos / tau).masked_fill(~in_moment, float("-inf")), dim=1)
    return torch.einsum("qp,qpd->qd", attn, frames)


def _frames_in(times: np.ndarray, moment: tuple[float, float]) -> np.ndarray:
    """Indices of the samples inside the moment; at least the two nearest its midpoint."""
    idx = np.nonzero((times >= moment[0]) & (times <= moment[1]))[0]
    if len(idx) < 2 and len(times) >= 2:
        mid = (moment[0] + moment[1]) / 2
        idx = np.sort(np.argsort(np.abs(times - mid), kind="stable")[:2])
    return idx


def spatial_dynamic_feature(video, moment: tuple[float, float], cfg: VdiConfig) -> torch.Tensor:
    """A7 / A11, per query, computed once from the (frozen) features: [d].

    Patches (A7): D_{t,p} = x~_{t+1,p} - x~_{t,p} for consecutive patch frames in the moment,
    pooled over p with weights softmax_p(||D_{t,p}|| / tau), averaged over t.
    Frames (A11, no patch features): the mean of consecutive frame-feature differences.
    Features are L2-normalised first, as MMN does with frames. A zero vector means "no dynamic
    feature" (fewer than two samples) and the query gets no L^sd term.
    """
    use_patches = cfg.dynamic_source == "patches" or (cfg.dynamic_source == "auto" and video.patches is not None)
    data = np.asarray(video.patches if use_patches else video.frames, dtype=np.float32)
    if use_patches and video.patches is None:
        from ..errors import VdiError
        raise VdiError(f"video '{video.vid}': vdi.dynamic_source = 'patches' but the data has no patch features; "
                       "use 'auto' or 'frames' (A11)")
    times = (np.arange(len(data)) + 0.5) * video.duration / max(len(data), 1)
    idx = _frames_in(times, moment)
    if len(idx) < 2:
        return torch.zeros(data.shape[-1])
    x = F.normalize(torch.from_numpy(data[idx]), dim=-1)
    diff = x[1:] - x[:-1]  # [t, P, d] or [t, d]
    if use_patches:
        w = torch.softmax(diff.norm(dim=-1) / cfg.tau_spatial, dim=1)  # [t, P]
        diff = (w[..., None] * diff).sum(1)
    return diff.mean(0)


def consistent_loss(q: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """mean over valid samples of 1 - cos(q, sg(target)); 0 when none is valid."""
    if not bool(valid.any()):
        return q.sum() * 0.0
    cos = F.cosine_similarity(q[valid].float(), target[valid].detach().float(), dim=-1)
    return (1.0 - cos).mean()


def relational_loss(q: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, tau: float) -> torch.Tensor:
    """KL(P_target || P_q) averaged over rows, where P is the row-softmax (temperature tau) of a
    batch's pairwise cosine matrix with the self-pair left out; needs >= 2 valid samples."""
    n = int(valid.sum())
    if n < 2:
        return q.sum() * 0.0
    qv = F.normalize(q[valid].float(), dim=-1)
    tv = F.normalize(target[valid].detach().float(), dim=-1)
    off = ~torch.eye(n, dtype=torch.bool, device=q.device)
    log_pq = torch.log_softmax((qv @ qv.t())[off].view(n, n - 1) / tau, dim=1)
    log_pt = torch.log_softmax((tv @ tv.t())[off].view(n, n - 1) / tau, dim=1)
    return (log_pt.exp() * (log_pt - log_pq)).sum(1).mean()


# The forms that name these losses (`vdi.vc_form`, `vdi.sd_form`) are registered in vdi/forms.py.


class Injection(nn.Module):
    """Holds what VDI adds to the model: a map of text queries into the visual feature space,
    needed only when the two spaces differ in size (separated backbone: DistilBERT 768-d vs
    VGG); for CLIP it is the identity and VDI adds no parameter."""

    def __init__(self, cfg: VdiConfig, text_dim: int, feature_dim: int):
        super().__init__()
        self.cfg = cfg
        self.to_visual = nn.Identity() if text_dim == feature_dim else nn.Linear(text_dim, feature_dim)

    def forward(self, *, q_static, static_valid, q_inject, inject_valid, frames, in_moment, dynamic):
        """Returns {"vc": L^vc, "sd": L^sd, "n_vc": count, "n_sd": count} for the enabled terms.

        q_static / q_inject [Q, Dt] with validity [Q]; frames [Q, P, d] pre-clip features of each
        query's video; in_moment [Q, P]; dynamic [Q, d] spatial dynamic features or None.
        """
        cfg = self.cfg
        out: dict[str, torch.Tensor] = {}
        q_inject = self.to_visual(q_inject)
        if cfg.lambda_vc > 0:
            with torch.no_grad():  # the context is a target: sg(c)
                context = visual_context(self.to_visual(q_static).float(), frames.float(), in_moment, cfg.tau_context)
            valid = static_valid & inject_valid
            out["vc"] = INJECTION_FORMS.get(cfg.vc_form)(q_inject, context, valid, cfg)
            out["n_vc"] = valid.sum()
        if cfg.lambda_sd > 0 and dynamic is not None:
            # A3: a sentence lacking Q^s or Q^d words contributes to neither term.
            valid = static_valid & inject_valid & (dynamic.norm(dim=-1) > 1e-8)
            out["sd"] = INJECTION_FORMS.get(cfg.sd_form)(q_inject, dynamic, valid, cfg)
            out["n_sd"] = valid.sum()
        return out
