"""VDI's visual context (A5), spatial dynamic feature (A7/A11) and injection losses (A6/A8)
against hand-computed cases."""

import math

import numpy as np
import pytest
import torch

from vdi_core.datatypes import Video
from vdi_core.vdi.injection import (
    Injection,
    consistent_loss,
    moment_segments,
    relational_loss,
    spatial_dynamic_feature,
    visual_context,
)
from vdi_core.vdi.settings import VdiConfig


def test_moment_segments_hand_case():
    # 4 segments with centres 0.125, 0.375, 0.625, 0.875 of a 10 s video.
    m = moment_segments(torch.tensor([[2.0, 7.0], [4.0, 4.5]]), torch.tensor([10.0, 10.0]), 4)
    assert m.tolist() == [[False, True, True, False], [False, True, False, False]]  # short: midpoint's segment


def test_visual_context_hand_case():
    # q^s = [1, 0]; frames in the moment [1, 0] and [0, 1] -> cos 1 and 0; tau 0.5:
    # a = softmax([2, 0]) -> c = a0 * [1, 0] + a1 * [0, 1]. The frame outside the moment is ignored.
    frames = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]])
    c = visual_context(torch.tensor([[1.0, 0.0]]), frames, torch.tensor([[True, True, False]]), tau=0.5)
    a0 = math.exp(2) / (math.exp(2) + 1)
    assert torch.allclose(c, torch.tensor([[a0, 1 - a0]]), atol=1e-6)


def test_consistent_loss_hand_case_and_stop_gradient():
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0], [3.0, 3.0]], requires_grad=True)
    t = torch.tensor([[0.0, 2.0], [1.0, 1.0], [9.0, 9.0]], requires_grad=True)
    valid = torch.tensor([True, True, False])
    loss = consistent_loss(q, t, valid)
    assert math.isclose(float(loss.detach()), (1.0 + (1 - 1 / math.sqrt(2))) / 2, rel_tol=1e-6)
    loss.backward()
    assert t.grad is None and q.grad[2].abs().sum() == 0


def test_relational_loss_hand_case():
    # Three samples. q's cosines: (0,1)=0, (0,2)=1/sqrt2, (1,2)=1/sqrt2; target's: (0,1)=1, (0,2)=0, (1,2)=0.
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    t = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    tau = 0.5
    cq = {(0, 1): 0.0, (0, 2): 1 / math.sqrt(2), (1, 2): 1 / math.sqrt(2)}
    ct = {(0, 1): 1.0, (0, 2): 0.0, (1, 2): 0.0}

    def row(c, i):
        others = [j for j in range(3) if j != i]
        logits = [c[tuple(sorted((i, j)))] / tau for j in others]
        z = sum(math.exp(x) for x in logits)
        return [math.exp(x) / z for x in logits]

    expect = sum(sum(pt * math.log(pt / pq) for pt, pq in zip(row(ct, i), row(cq, i))) for i in range(3)) / 3
    got = relational_loss(q, t, torch.ones(3, dtype=torch.bool), tau)
    assert math.isclose(float(got), expect, rel_tol=1e-5)
    # identical relations -> 0; fewer than two valid samples -> 0 without error
    assert float(relational_loss(q, q * 2, torch.ones(3, dtype=torch.bool), tau)) == pytest.approx(0.0, abs=1e-6)
    assert float(relational_loss(q, t, torch.tensor([True, False, False]), tau)) == 0.0


def _video(patches):
    frames = np.array([[1, 0], [0, 1], [1, 1], [5, 5]], dtype=np.float32)  # times 0.5, 1.5, 2.5, 3.5 of 4 s
    return Video(vid="v", duration=4.0, frames=frames, patches=patches)


def test_spatial_dynamic_feature_from_patches_hand_case():
    # Three patch frames in a 4 s video sit at 2/3, 2 and 10/3 s.
    p = np.zeros((3, 2, 2), dtype=np.float32)
    p[0] = [[1, 0], [1, 0]]
    p[1] = [[0, 1], [1, 0]]  # patch 0 moves, patch 1 stays
    p[2] = [[0, 1], [1, 0]]
    cfg = VdiConfig(tau_spatial=0.5)
    d = spatial_dynamic_feature(_video(p), (0.0, 2.5), cfg)  # moment covers patch frames 0 and 1
    # D = [[-1, 1], [0, 0]]; norms sqrt2, 0 -> w = softmax([sqrt2/0.5, 0]); one difference -> d = w0 * [-1, 1]
    w0 = math.exp(math.sqrt(2) / 0.5) / (math.exp(math.sqrt(2) / 0.5) + 1)
    assert torch.allclose(d, torch.tensor([-w0, w0]), atol=1e-6)


def test_spatial_dynamic_feature_falls_back_to_frame_differences():
    # A11: no patches -> mean of consecutive differences of normalised frames 0..2 (moment 0-3 s).
    d = spatial_dynamic_feature(_video(None), (0.0, 3.0), VdiConfig())
    f = [np.array(v) / np.linalg.norm(v) for v in ([1, 0], [0, 1], [1, 1])]
    expect = ((f[1] - f[0]) + (f[2] - f[1])) / 2
    assert torch.allclose(d, torch.tensor(expect, dtype=torch.float32), atol=1e-6)
    with pytest.raises(Exception, match="no patch features"):
        spatial_dynamic_feature(_video(None), (0.0, 3.0), VdiConfig(dynamic_source="patches"))


def test_injection_terms_follow_lambdas_and_validity():
    torch.manual_seed(0)
    q_s, q_d, frames = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 5, 8)
    dyn = torch.randn(4, 8)
    dyn[3] = 0  # no dynamic feature for the last query
    static_valid = torch.tensor([True, True, False, True])
    args = dict(q_static=q_s, static_valid=static_valid, q_inject=q_d, inject_valid=torch.ones(4, dtype=torch.bool),
                frames=frames, in_moment=torch.ones(4, 5, dtype=torch.bool), dynamic=dyn)
    out = Injection(VdiConfig(lambda_vc=0.5, lambda_sd=0.01), 8, 8)(**args)
    assert int(out["n_vc"]) == 3 and int(out["n_sd"]) == 2  # A3: no Q^s word -> no term
    assert set(Injection(VdiConfig(lambda_vc=0.5, lambda_sd=0.0), 8, 8)(**args)) == {"vc", "n_vc"}
    assert isinstance(Injection(VdiConfig(), 8, 8).to_visual, torch.nn.Identity)
    assert isinstance(Injection(VdiConfig(), 12, 8).to_visual, torch.nn.Linear)  # separated backbone


def test_a_registered_form_is_accepted_by_the_config_and_used(monkeypatch):
    """Adding an injection form is its function plus one registration: the config then accepts its
    name (no hand-kept list) and the loss calls it."""
    from vdi_core.grounding.config import GroundingConfig
    from vdi_core.vdi.forms import INJECTION_FORMS

    calls = []

    def half_form(q, target, valid, cfg):
        calls.append(int(valid.sum()))
        return q.sum() * 0.0 + 0.5

    monkeypatch.setitem(INJECTION_FORMS._entries, "half", half_form)
    cfg = GroundingConfig(vdi=VdiConfig(vc_form="half", lambda_sd=0.0))
    assert cfg.vdi.vc_form == "half"
    q = torch.randn(3, 8)
    out = Injection(cfg.vdi, 8, 8)(q_static=q, static_valid=torch.ones(3, dtype=torch.bool), q_inject=q,
                                   inject_valid=torch.ones(3, dtype=torch.bool), frames=torch.randn(3, 4, 8),
                                   in_moment=torch.ones(3, 4, dtype=torch.bool), dynamic=None)
    assert float(out["vc"]) == 0.5 and calls == [3]
