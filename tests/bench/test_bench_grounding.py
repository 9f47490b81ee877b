"""One MMN (+VDI) training step at the paper's Charades shapes: N=16 from 32 pre-clips, 48 videos
with ~2.3 sentences each (110), 512-d features, 8 x 5 proposal conv at 512 channels, CLIP
ViT-B/32 text tower with random weights, text unfrozen, VDI's default losses on. Reports the
step time and the peak resident memory. On CUDA it also times one Charades-CG training epoch
(8,281 queries in 3,555 videos) on synthetic features of the real shapes."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from vdi_core.datatypes import ModelSpec, Query, Video  # noqa: E402
from vdi_core.grounding.config import GroundingConfig  # noqa: E402
from vdi_core.grounding.dataset import prepare_split  # noqa: E402
from vdi_core.grounding.system import GroundingSystem, make_batch  # noqa: E402
from vdi_core.grounding.trainer import build_optimizer  # noqa: E402
from vdi_core.towers.factory import build_text_tower  # noqa: E402
from vdi_core.vdi.injection import spatial_dynamic_feature  # noqa: E402

pytestmark = pytest.mark.bench
SENTENCES = ["a person opens the door.", "person quickly puts a book on the shelf.", "the person turns off the light.",
             "someone is eating a sandwich in the kitchen.", "person sits down on a chair."]


def _videos(n_videos: int, n_queries: int, rng) -> list[Video]:
    per = np.full(n_videos, n_queries // n_videos)
    per[: n_queries - per.sum()] += 1
    videos = []
    for v in range(n_videos):
        d = float(rng.uniform(20, 40))
        qs = []
        for k in range(per[v]):
            s = float(rng.uniform(0, d * 0.7))
            qs.append(Query(f"{v}-{k}", SENTENCES[(v + k) % len(SENTENCES)], (s, s + d * 0.25)))
        frames = rng.standard_normal((int(d * 3), 512)).astype(np.float32)  # A2: 3 fps
        patches = rng.standard_normal((32, 49, 512)).astype(np.float16).astype(np.float32)  # A2: 32 frames
        videos.append(Video(str(v), d, frames, patches, qs))
    return videos


def _system(device: str):
    torch.manual_seed(0)
    cfg = GroundingConfig()
    tower = build_text_tower(ModelSpec(kind="open_clip", model="ViT-B-32"), device)
    system = GroundingSystem(cfg, tower, 512).to(device).train()
    optimizer, _, _ = build_optimizer(system, cfg)
    return cfg, system, optimizer


def _step(system, optimizer, batch, device):
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        loss = system.batch_losses(batch, epoch=5)["total"]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in system.parameters() if p.grad is not None], 5.0)
    optimizer.step()
    return float(loss.detach())


def test_bench_training_step_paper_shapes(benchmark):
    rng = np.random.default_rng(0)
    cfg, system, optimizer = _system("cpu")
    videos = _videos(48, 110, rng)
    split, _ = prepare_split(videos, feature_dim=512, num_pre_clips=32,
                             dynamic_fn=lambda v, m: spatial_dynamic_feature(v, m, cfg.vdi))
    batch = make_batch(split, torch.arange(48), 16, "cpu")
    system.parser(batch.sentences)  # spaCy loads once, outside the timing
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # minutes per step on 2 CPU cores, so a single round
    loss = benchmark.pedantic(_step, args=(system, optimizer, batch, "cpu"), rounds=1, iterations=1, warmup_rounds=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    benchmark.extra_info.update({"queries": split.num_queries, "videos": 48, "threads": torch.get_num_threads(),
                                 "peak_rss_mib": round(peak), "rss_before_step_mib": round(rss_before)})
    print(f"\nMMN+VDI step, paper shapes, CPU x{torch.get_num_threads()}: min {benchmark.stats['min']:.2f} s, "
          f"peak RSS {peak:.0f} MiB (before the first step {rss_before:.0f} MiB)")
    assert np.isfinite(loss)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bench_charades_cg_epoch_cuda():
    rng = np.random.default_rng(0)
    cfg, system, optimizer = _system("cuda")
    videos = _videos(3555, 8281, rng)
    split, _ = prepare_split(videos, feature_dim=512, num_pre_clips=32,
                             dynamic_fn=lambda v, m: spatial_dynamic_feature(v, m, cfg.vdi))
    batches = list(torch.arange(3555).split(48))
    system.parser(split.sentences)
    _step(system, optimizer, make_batch(split, batches[0], 16, "cuda"), "cuda")  # warm-up
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for rows in batches:
        _step(system, optimizer, make_batch(split, rows, 16, "cuda"), "cuda")
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - t
    print(f"\nCharades-CG epoch ({split.num_queries} queries, {len(batches)} steps) on "
          f"{torch.cuda.get_device_name()}: {elapsed:.1f} s, peak GPU memory "
          f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
