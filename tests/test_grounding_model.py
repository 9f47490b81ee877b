"""MMN's pieces against hand-computed cases: frame pooling, the 2D map, the masked conv, scores."""

import math

import pytest
import torch

from vdi_core.errors import VdiError
from vdi_core.grounding.config import GroundingConfig, ModelConfig
from vdi_core.grounding.dataset import pool_frames
from vdi_core.grounding.model import (
    MMN,
    DifferenceMap,
    MMNOutput,
    ProposalConv,
    SparseMaxPool,
    _masked_weights,
    final_scores,
)
from vdi_core.grounding.proposals import proposal_mask
from vdi_core.vdi.settings import VdiConfig


def test_pool_frames_follows_mmn_rounding_and_empty_segments():
    # T=5, P=2: boundaries round([0, 2.5, 5]) = [0, 2, 5] -> clamp to T-1 = [0, 2, 4] (MMN's avgfeats):
    # segment 0 = frames 0,1; segment 1 = frames 2,3.
    frames = torch.tensor([[1.0, 0], [0, 2.0], [3.0, 0], [0, 4.0], [5.0, 0]])
    out = pool_frames(frames, 2)
    assert torch.allclose(out, torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
    # T=1, P=3: every segment is empty and takes the (normalised) frame at its start.
    out = pool_frames(torch.tensor([[3.0, 4.0]]), 3)
    assert torch.allclose(out, torch.tensor([[0.6, 0.8]] * 3))


@pytest.mark.parametrize("n,counts", [(16, (15,)), (64, (15, 8, 8))])
def test_sparse_max_pool_cell_is_max_over_its_clips(n, counts):
    torch.manual_seed(0)
    x = torch.randn(2, 3, n)
    pool = SparseMaxPool(n, counts)
    out = pool(x)
    mask = proposal_mask(n, counts)
    for i, j in mask.nonzero().tolist():
        assert torch.equal(out[:, :, i, j], x[:, :, i:j + 1].amax(-1)), (i, j)
    assert (out[:, :, ~mask] == 0).all()


def test_masked_weights_hand_case():
    # N=3 with pooling (1,): valid cells (0,0),(1,1),(2,2),(0,1),(1,2). Kernel 3, one layer,
    # padding 1: each output cell is weighted by 1 / (valid cells in its 3x3 window), counted by hand.
    mask = proposal_mask(3, (1,))
    pad, weights = _masked_weights(mask, 3, 1)
    assert pad == 1
    counts = torch.tensor([[3, 4, 3], [3, 5, 4], [1, 3, 3]], dtype=torch.float32)
    assert torch.allclose(weights[0], 1 / counts)


@pytest.mark.parametrize("n,counts,k,layers", [(16, (15,), 5, 8), (16, (15,), 3, 2), (64, (15, 8, 8), 9, 4)])
def test_proposal_conv_keeps_the_map_size(n, counts, k, layers):
    conv = ProposalConv(4, 6, k, layers, proposal_mask(n, counts))
    a, b = conv(torch.randn(1, 4, n, n))
    assert a.shape == b.shape == (1, 6, n, n)


def test_mmn_scores_are_cosines_with_the_own_video():
    torch.manual_seed(0)
    cfg = ModelConfig(num_clips=4, pooling_counts=(3,), conv_layers=2, conv_kernel=3, joint_dim=5, hidden_dim=6)
    model = MMN(cfg, feature_dim=7, text_dim=8, num_pre_clips=8).eval()
    feats, sent = torch.randn(2, 8, 7), torch.randn(3, 8)
    video_of = torch.tensor([0, 1, 1])
    out = model(feats, sent, video_of)
    map_iou, map_con = model.proposal_conv(model.map2d(model.feat_pool(feats)))
    s_iou, s_con = model.sentence_heads(sent)
    i, j = 1, 3  # a valid cell
    expect = torch.nn.functional.cosine_similarity(s_con[2], map_con[1, :, i, j], dim=0)
    assert torch.allclose(out.contrastive_cos[2, i, j], expect, atol=1e-6)
    expect = 10 * torch.nn.functional.cosine_similarity(s_iou[0], map_iou[0, :, i, j], dim=0)
    assert torch.allclose(out.iou_logits[0, i, j], expect, atol=1e-5)
    assert (out.iou_logits[:, 3, 0] == 0).all()  # invalid cell


def test_difference_map_is_the_change_over_the_proposal():
    # A19: with an identity projection, cell (i, j) is x_j - x_i; cells outside the mask are 0.
    mask = proposal_mask(3, (1,))  # (0,2) and (1,0) etc. invalid: only |j - i| <= 1, i <= j
    diff = DifferenceMap(2, mask)
    with torch.no_grad():
        diff.proj.weight.copy_(torch.eye(2)[:, :, None, None])
        diff.proj.bias.zero_()
    x = torch.tensor([[[1.0, 4.0, 9.0], [0.0, -1.0, 5.0]]])  # [B=1, H=2, N=3]
    out = diff(x)
    assert out[0, :, 0, 1].tolist() == [3.0, -1.0] and out[0, :, 1, 2].tolist() == [5.0, 6.0]
    assert out[0, :, 1, 1].tolist() == [0.0, 0.0]
    assert (out[0, :, ~mask] == 0).all()


def test_difference_map_is_off_by_default_and_shared_by_every_mmn():
    torch.manual_seed(0)
    base = dict(num_clips=4, pooling_counts=(3,), conv_layers=2, conv_kernel=3, joint_dim=5, hidden_dim=6)
    assert MMN(ModelConfig(**base), 7, 8, 8).difference_map is None
    torch.manual_seed(0)
    plain = MMN(ModelConfig(**base), 7, 8, 8)
    torch.manual_seed(0)
    with_diff = MMN(ModelConfig(**base, difference_map=True), 7, 8, 8)
    # created last: the rest of the head starts from the same init with the knob on or off
    for (name, a), (_, b) in zip(plain.state_dict().items(), with_diff.state_dict().items()):
        assert torch.equal(a, b), name


def test_final_score_hand_case():
    # c = 0.5 -> sqrt(0.75); iou logit 0 -> 0.5; invalid cells score 0.
    out = MMNOutput(iou_logits=torch.zeros(1, 2, 2), contrastive_cos=torch.full((1, 2, 2), 0.5),
                    map_contrastive=None, sent_contrastive=None)
    mask = torch.tensor([[True, True], [False, True]])
    s = final_scores(out, mask)
    assert math.isclose(float(s[0, 0, 1]), math.sqrt(0.75) * 0.5, rel_tol=1e-6)
    assert float(s[0, 1, 0]) == 0.0


@pytest.mark.parametrize("key,value,hint", [
    ("vdi", {"vc_form": "relational "}, "relational"),
    ("vdi", {"inject_into": "dynamik"}, "dynamic"),
    ("data", {"backbone": "vit_joint"}, "vit-joint"),
    ("model", {"method": "fixed-prior"}, "fixed_prior"),
])
def test_config_rejects_unknown_choices_with_did_you_mean(key, value, hint):
    from dataclasses import replace

    cfg = GroundingConfig()
    with pytest.raises(VdiError, match=f"did you mean '{hint}'"):
        replace(cfg, **{key: replace(getattr(cfg, key), **value)}).__post_init__()


def test_config_defaults_and_assumption_tags():
    from vdi_core.resolve import assumption_values as assumptions

    cfg = GroundingConfig()
    vdi = cfg.vdi
    assert (vdi.lambda_vc, vdi.lambda_sd, vdi.vc_form, vdi.sd_form) == (0.5, 0.01, "consistent", "relational")
    assert isinstance(cfg.train.milestones, tuple) and isinstance(cfg.model.pooling_counts, tuple)
    tags = assumptions(cfg)
    for a in ("A2", "A3", "A5", "A6", "A7", "A8", "A9", "A10", "A11", "A16", "A18", "A19"):
        assert a in tags
    with pytest.raises(VdiError, match="num_pre_clips"):
        GroundingConfig(model=ModelConfig(num_clips=5))
    with pytest.raises(VdiError, match="lambda_vc"):
        GroundingConfig(vdi=VdiConfig(lambda_vc=-1))


def test_seeds_are_paired_across_rows(tmp_path):
    """The same seed gives an MMN row and a VDI row the same head and text-tower init, so row
    differences are paired (issue 12; batches are seeded by run seed and epoch alone in the trainer);
    only the VDI modules are extra."""
    from grounding_support import make_splits, tiny_config

    from vdi_core.grounding.system import GroundingSystem
    from vdi_core.grounding.trainer import seed_everything
    from vdi_core.towers.factory import build_text_tower

    splits = make_splits(tmp_path)
    states = []
    for vdi in ({"lambda_vc": 0.0, "lambda_sd": 0.0}, {"lambda_vc": 0.5, "lambda_sd": 0.01}):
        seed_everything(3)
        tower = build_text_tower(splits.text)
        seed_everything(3)
        system = GroundingSystem(tiny_config(vdi=vdi), tower, 32, seed=3)
        states.append({k: v.clone() for k, v in system.state_dict().items() if not k.startswith("injection")})
    assert states[0].keys() == states[1].keys()
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k
