"""The grounding task end to end on tiny random worlds: determinism, resume, the lambda = 0/0
baseline, text-tower freezing, the fixed prior, and that MMN learns where the answer is visible."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from grounding_support import Killed, kill_after, make_ctx, make_splits, tiny_config, use_splits

from vdi_core.datatypes import Query, Video
from vdi_core.errors import VdiError
from vdi_core.grounding.trainer import CHECKPOINT
from vdi_core.tasks import grounding as grounding_task


def _run(cfg, tmp, seed=0, **kw):
    return grounding_task.run(cfg, make_ctx(tmp, seed=seed, **kw))


def test_registered_task_and_metric_keys(splits, tmp_path):
    from vdi_core.tasks import get_task

    assert get_task("grounding").config_cls.__name__ == "GroundingConfig"
    r = _run(tiny_config(), tmp_path / "a")
    assert list(r.metrics) == ["R@1,IoU=0.3", "R@1,IoU=0.5", "R@1,IoU=0.7", "R@5,IoU=0.3", "R@5,IoU=0.5",
                               "R@5,IoU=0.7", "mIoU"]
    assert len(r.curves["loss_total"]) == 2 and r.extra["last_epoch"] == 2
    assert r.extra["counts"] == {"train_videos": 8, "train_queries": 16, "eval_videos": 4, "eval_queries": 8}
    assert r.curves["vdi_n_vc_per_step"][0] > 0  # the L^vc term was active


def test_same_seed_same_numbers_on_cpu(splits, tmp_path):
    a = _run(tiny_config(), tmp_path / "a", seed=3)
    b = _run(tiny_config(), tmp_path / "b", seed=3)
    c = _run(tiny_config(), tmp_path / "c", seed=4)
    assert a.metrics == b.metrics and a.curves == b.curves
    assert a.curves["loss_total"] != c.curves["loss_total"]


def test_resume_after_a_kill_reproduces_the_uninterrupted_run(splits, tmp_path):
    cfg = tiny_config(train={"epochs": 3})
    full = _run(cfg, tmp_path / "full")

    with pytest.raises(Killed):
        _run(cfg, tmp_path / "resumed", progress=kill_after(2))
    assert (tmp_path / "resumed" / "work" / CHECKPOINT).is_file()
    resumed = _run(cfg, tmp_path / "resumed")
    assert resumed.extra["resumed_from_epoch"] == 3
    assert resumed.metrics == full.metrics and resumed.curves == full.curves


def test_lambda_zero_is_exactly_the_mmn_baseline(splits, tmp_path):
    """With lambda 0/0 no VDI code or parameter exists, so VDI-only knobs cannot change a number;
    with lambda_vc > 0 the numbers do change (the test can fail both ways)."""
    zero, unfrozen = {"lambda_vc": 0.0, "lambda_sd": 0.0}, {"freeze_text_epochs": 0}
    base = _run(tiny_config(vdi=zero, train=unfrozen), tmp_path / "a")
    other_knobs = dict(zero, vc_form="relational", sd_form="consistent", inject_into="sentence",
                       context_query="random_half", tau_context=0.7, tau_relational=0.3, spacy_model="nonexistent")
    assert _run(tiny_config(vdi=other_knobs, train=unfrozen), tmp_path / "b").curves == base.curves
    with_vdi = _run(tiny_config(vdi={"lambda_vc": 0.5, "lambda_sd": 0.0}, train=unfrozen), tmp_path / "c")
    assert with_vdi.curves["loss_iou"] != base.curves["loss_iou"]

    from vdi_core.grounding.system import GroundingSystem
    from vdi_core.towers.factory import build_text_tower

    system = GroundingSystem(tiny_config(vdi=zero), build_text_tower(splits.text), 32)
    assert system.injection is None and system.parser is None
    assert not any(n.startswith("injection") for n, _ in system.named_parameters())


def test_gradients_reach_the_text_tower_only_when_unfrozen(splits, tmp_path):
    from vdi_core.grounding.dataset import prepare_split
    from vdi_core.grounding.system import GroundingSystem, make_batch
    from vdi_core.towers.factory import build_text_tower

    cfg = tiny_config()
    split, _ = prepare_split(splits.train, feature_dim=32, num_pre_clips=16)
    system = GroundingSystem(cfg, build_text_tower(splits.text), 32)
    batch = make_batch(split, torch.arange(4), 8, "cpu")
    for frozen in (True, False):
        system.zero_grad(set_to_none=True)
        system.text_frozen = frozen
        system.batch_losses(batch, epoch=1)["total"].backward()
        grads = [p.grad for n, p in system.text.named_parameters() if "resblocks" in n]
        if frozen:
            assert all(g is None for g in grads)
        else:
            assert any(g is not None and g.abs().sum() > 0 for g in grads)
        assert system.mmn.sentence_heads.iou.weight.grad.abs().sum() > 0  # heads always learn


def test_fixed_prior_picks_the_commonest_cell(tmp_path):
    rng = np.random.default_rng(0)

    def video(i, frac):
        d = 10.0
        return Video(vid=f"v{i}", duration=d, frames=rng.standard_normal((16, 32)).astype(np.float32), patches=None,
                     queries=[Query(qid=f"q{i}", sentence="a person opens the door.", moment=(0.0, frac * d))])

    s = make_splits(tmp_path)
    s = replace(s, train=[video(i, 0.5) for i in range(5)] + [video(9, 1.0)], eval=[video(20, 0.5), video(21, 0.25)])
    use_splits(s)
    r = _run(tiny_config(model={"method": "fixed_prior"}), tmp_path / "p")
    assert r.extra["fixed_prior"]["cell"] == [0.0, 0.5]
    # eval query 1: [0, 0.5] vs GT [0, 0.5] -> IoU 1; query 2: GT [0, 0.25] -> IoU 0.5
    assert r.metrics["R@1,IoU=0.5"] == 100.0 and r.metrics["R@1,IoU=0.7"] == 50.0
    assert math.isclose(r.metrics["mIoU"], 75.0)
    assert r.curves == {}


@pytest.mark.parametrize("mutate,expect", [
    (lambda v: setattr(v, "frames", np.full_like(v.frames, np.nan)), "NaN or inf"),
    (lambda v: v.frames.__setitem__((3, 5), np.inf), "NaN or inf"),
    (lambda v: setattr(v, "frames", v.frames[:, :16]), "dim 16, expected feature_dim 32"),
    (lambda v: setattr(v, "patches", v.patches[..., :8]), "patch features have dim 8"),
    (lambda v: setattr(v, "duration", 0.0), "duration"),
])
def test_malformed_features_raise_one_clear_error(tmp_path, mutate, expect):
    s = make_splits(tmp_path)
    mutate(s.train[1])
    use_splits(s)
    with pytest.raises(VdiError, match=expect) as e:
        _run(tiny_config(), tmp_path / "x")
    assert "tr1" in str(e.value) or "duration" in expect
    assert "\n" not in str(e.value)


def test_bad_queries_and_empty_videos_are_counted_skips(tmp_path):
    s = make_splits(tmp_path)
    v = s.train[0]
    d = v.duration
    v.queries += [Query("empty", "   ", (1.0, 2.0)), Query("after", "a person sits.", (d + 1, d + 5)),
                  Query("inverted", "a person sits.", (5.0, 2.0))]
    s.train[1].frames = s.train[1].frames[:0]
    use_splits(s)
    r = _run(tiny_config(), tmp_path / "x")
    sk = r.extra["skipped"]
    assert sk["train/query_empty_sentence"] == 1 and sk["train/query_moment_outside_video"] == 1
    assert sk["train/query_start_ge_end"] == 1 and sk["train/video_zero_frames"] == 1
    assert sk["train/query_of_zero_frame_video"] == 2
    assert r.extra["counts"]["train_videos"] == 7 and r.extra["counts"]["train_queries"] == 14


def test_mmn_beats_the_fixed_prior_when_the_answer_is_visible(tmp_path):
    """The toy setting's trap (docs/ENGINEERING_NOTES.md section 3, pitfall 1): a cut-down MMN that never
    beat the prior. Here each moment carries a spike along its sentence's direction; MMN must localise
    it far better than any fixed cell."""
    use_splits(make_splits(tmp_path, n_train=96, n_eval=48, frames=64))
    cfg = tiny_config(data={"num_pre_clips": 32},
                      model={"num_clips": 16, "pooling_counts": (15,), "hidden_dim": 32, "joint_dim": 32,
                             "conv_layers": 2, "conv_kernel": 5},
                      train={"epochs": 5, "batch_size": 16, "lr": 2e-3, "switch_epoch": 3},
                      vdi={"lambda_vc": 0.0, "lambda_sd": 0.0})
    r = _run(cfg, tmp_path / "learn")
    prior = r.extra["fixed_prior"]["metrics"]
    assert r.metrics["R@1,IoU=0.5"] > prior["R@1,IoU=0.5"] + 20
    assert r.metrics["mIoU"] > prior["mIoU"] + 15


def test_selection_a16_best_by_r1_sum_first_on_ties_and_last():
    from vdi_core.grounding.trainer import History, select

    h = History(evals={1: {"R@1,IoU=0.5": 50.0, "R@1,IoU=0.7": 20.0},
                       2: {"R@1,IoU=0.5": 60.0, "R@1,IoU=0.7": 15.0},
                       3: {"R@1,IoU=0.5": 40.0, "R@1,IoU=0.7": 35.0}})
    assert select(h, "best") == (2, 3)  # 75 at epochs 2 and 3: the first wins
    assert select(h, "last") == (3, 3)
