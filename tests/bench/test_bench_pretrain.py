"""Benchmark of the micro-CLIPs' pre-training step (vdi_core/mini/pretrain.py), one core.

Pre-training is the largest single item of a cold `nox -s tables` (README, "Budgets"): vit-joint's
1,000 steps, resnet-joint's 400. A21 gave the micro-ViT a convolutional trunk (towers/stems.py); this
measures what a step costs with it, against the linear-patch micro-ViT it replaced and the micro-ResNet.

Target: a vit-joint step (batch 256, forward + backward + AdamW, one thread) <= 0.6 s, so its 1,000
steps stay within ~10 min of one core; the others are reported. Measured on an idle 2-core machine
(2026-12-02): vit-joint 309 ms, vit-joint-linear 147 ms, resnet-joint 309 ms; in a cold build, with
grounding runs on the other core, vit-joint's 1,000 steps plus its features took 475 s.

Run: nox -s bench  (or pytest tests/bench/test_bench_pretrain.py -m bench --benchmark-enable -s)
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from vdi_core.mini import pretrain
from vdi_core.mini import world as W
from vdi_core.mini.micro_models import TEXT_CFG, PretrainConfig

pytestmark = pytest.mark.bench
BATCH = 256


@pytest.fixture(scope="module")
def world():
    return W.load_world()


def _step_fn(name: str, world: dict):
    """One contrastive step of `name` (pretrain.contrastive_step, the step train_clip runs) on random
    frames and the world's captions."""
    from vdi_core.mini import frames as frames_mod
    from vdi_core.towers.bpe import compact_tokenizer

    pieces = pretrain.world_pieces(world)
    model = pretrain.new_model(name, 0, pieces).train()
    size = world["render"]["size"]
    frames = np.random.default_rng(0).integers(0, 256, (BATCH, size, size, 3), dtype=np.uint8)
    batch_images = pretrain._batcher(model, frames)
    w = dict(world, pretrain_frames=dict(world["pretrain_frames"], held_out=BATCH))
    captions = frames_mod.pretrain_set(w, 0, "held_out")[1]
    tokens = compact_tokenizer(pieces, TEXT_CFG["context_length"])(captions)
    opt = torch.optim.AdamW(model.parameters(), lr=PretrainConfig().lr)
    idx = torch.arange(BATCH)
    return lambda: pretrain.contrastive_step(model, opt, batch_images(idx), tokens)


@pytest.mark.parametrize("name, target_s", [("vit-joint", 0.6), ("vit-joint-linear", None), ("resnet-joint", None)])
def test_pretrain_step(benchmark, world, name, target_s):
    step, times = _step_fn(name, world), []

    def timed():
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)

    with pretrain.torch_threads(1):
        step()  # first call: allocator and kernels warm
        benchmark.pedantic(timed, rounds=5, iterations=1)  # one round under --benchmark-disable
    mean = sum(times) / len(times)
    print(f"\n{name}: {mean * 1000:.0f} ms per pre-training step (batch {BATCH}, one thread)")
    if target_s is not None:
        assert mean <= target_s
