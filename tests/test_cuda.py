"""The CUDA paths (bf16 autocast, device moves, CUDA RNG state in checkpoints), checked against
the CPU. Skipped without a GPU: CI has none; run them on a GPU machine with `pytest -m cuda`."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from _tiny_clip import tiny_spec
from grounding_support import Killed, kill_after, make_ctx, make_splits, tiny_config, use_splits

from vdi_core.grounding.dataset import prepare_split
from vdi_core.grounding.system import GroundingSystem, make_batch
from vdi_core.grounding.trainer import CHECKPOINT, _autocast
from vdi_core.tasks import grounding as grounding_task
from vdi_core.towers.clip import ClipTextTower, load_clip
from vdi_core.towers.factory import build_text_tower
from vdi_core.towers.image import encode_frames
from vdi_core.vdi.queries import QueryWords

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CI has none)")]


def _words(sentence: str, static: list[str], dynamic: list[str]) -> QueryWords:
    """Hand-labelled Q^s / Q^d words (char spans of the lower-cased sentence), so these tests need no spaCy."""
    text = sentence.lower()

    def spans(words):
        return tuple((text.index(w), text.index(w) + len(w)) for w in words)

    every = tuple((m, m + len(w)) for m, w in ((text.index(w), w) for w in text.rstrip(".").split()))
    return QueryWords(spans(static), spans(dynamic), every)


HAND_LABELS = {
    "a person opens the door.": (["person", "door"], ["opens"]),
    "person quickly puts a book on the shelf.": (["person", "book", "shelf"], ["quickly", "puts"]),
    "the person turns off the light.": (["person", "light"], ["turns", "off"]),
    "someone is eating a sandwich.": (["someone", "sandwich"], ["eating"]),
    "person sits down on a chair.": (["person", "chair"], ["sits", "down"]),
    "a man throws a pillow onto the bed.": (["man", "pillow", "bed"], ["throws"]),
}


@pytest.fixture
def splits(tmp_path):
    s = make_splits(tmp_path, n_train=16, n_eval=8)
    use_splits(s)
    return s


@pytest.fixture(autouse=True)
def _no_spacy(monkeypatch):
    from vdi_core.vdi import queries

    table = {s: _words(s, *labels) for s, labels in HAND_LABELS.items()}
    monkeypatch.setattr(queries.QueryParser, "__call__", lambda self, sentences: [table[s] for s in sentences])


def test_text_tower_on_cuda_matches_cpu(tmp_path):
    spec = tiny_spec(tmp_path / "tiny")
    sentences = list(HAND_LABELS)
    cpu = ClipTextTower(*load_clip(spec, "cpu")[::2])(sentences, need_attention=True)
    gpu = ClipTextTower(*load_clip(spec, "cuda")[::2])(sentences, need_attention=True)
    assert gpu.tokens.device.type == "cuda"
    torch.testing.assert_close(gpu.sentence.cpu(), cpu.sentence, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gpu.attention.cpu(), cpu.attention, rtol=1e-4, atol=1e-5)
    assert gpu.spans == cpu.spans and torch.equal(gpu.mask.cpu(), cpu.mask)


def test_one_bf16_step_on_cuda_is_close_to_fp32_on_cpu(splits, tmp_path):
    """Same weights, same batch: MMN's and VDI's losses under CUDA bf16 autocast stay within bf16
    rounding of the CPU fp32 losses, and every trained parameter gets a finite gradient."""
    cfg = tiny_config()
    train, _ = prepare_split(splits.train, feature_dim=splits.feature_dim, num_pre_clips=cfg.data.num_pre_clips,
                             split="train")
    torch.manual_seed(0)
    cpu_sys = GroundingSystem(cfg, build_text_tower(splits.text, "cpu"), splits.feature_dim)
    gpu_sys = GroundingSystem(cfg, build_text_tower(splits.text, "cuda"), splits.feature_dim).cuda()
    gpu_sys.load_state_dict(cpu_sys.state_dict())
    rows = torch.arange(4)
    ref = cpu_sys.batch_losses(make_batch(train, rows, cfg.model.num_clips, "cpu"), epoch=2)
    with _autocast("cuda"):
        got = gpu_sys.batch_losses(make_batch(train, rows, cfg.model.num_clips, "cuda"), epoch=2)
    for name in ("iou", "video", "sent", "vc", "total"):
        assert got[name].device.type == "cuda"
        assert abs(float(got[name].detach()) - float(ref[name].detach())) <= 0.03 * abs(float(ref[name])) + 1e-3, name
    got["total"].backward()
    grads = [p.grad for p in gpu_sys.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_grounding_run_on_cuda_learns_and_resumes(splits, tmp_path):
    """The task end to end on the GPU: its loss falls like the CPU run's (bf16 rounding apart), and
    a run killed after epoch 2 resumes (CUDA RNG state included) to the uninterrupted run's numbers."""
    cfg = tiny_config(train={"epochs": 3})

    def run(tmp, **kw):
        return grounding_task.run(cfg, replace(make_ctx(tmp, **kw), device="cuda"))

    full = run(tmp_path / "full")
    cpu = grounding_task.run(cfg, make_ctx(tmp_path / "cpu"))
    assert full.extra["counts"] == cpu.extra["counts"]
    assert np.isfinite(list(full.metrics.values())).all()
    gpu_loss, cpu_loss = full.curves["loss_total"], cpu.curves["loss_total"]
    assert gpu_loss[-1] < gpu_loss[0]
    np.testing.assert_allclose(gpu_loss, cpu_loss, rtol=0.05)

    with pytest.raises(Killed):
        run(tmp_path / "resumed", progress=kill_after(2))
    assert (tmp_path / "resumed" / "work" / CHECKPOINT).is_file()
    resumed = run(tmp_path / "resumed")
    assert resumed.extra["resumed_from_epoch"] == 3
    for name, value in full.metrics.items():
        assert resumed.metrics[name] == pytest.approx(value, abs=1e-6), name


def test_frame_features_on_cuda_match_cpu(tmp_path):
    """Up to TF32: PyTorch runs convolutions (the ViT's patch embedding) in TF32 on Ampere and later
    by default, ~1e-4 absolute on unit-scale features (measured on an H100: max 1.2e-4)."""
    spec = tiny_spec(tmp_path / "tiny")
    frames = np.random.default_rng(0).integers(0, 256, (12, 40, 48, 3), dtype=np.uint8)
    g_cpu, p_cpu = encode_frames(load_clip(spec, "cpu")[0], frames, patch_frames=4, device="cpu")
    g_gpu, p_gpu = encode_frames(load_clip(spec, "cuda")[0], frames, patch_frames=4, device="cuda")
    np.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=1e-3, atol=1e-3)
