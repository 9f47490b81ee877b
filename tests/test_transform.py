"""Frame preprocessing equals open_clip's own eval transform (issue 10, item 11): torchvision's
size arithmetic (the long side truncated), its centre-crop offsets, and the pixels themselves
against `open_clip.image_transform(...)(PIL image)` on smooth frames of several aspect ratios."""

import numpy as np
import pytest
import torch
from PIL import Image

from vdi_core.towers.image import OPENAI_MEAN, OPENAI_STD, crop_offsets, resized_size, to_model_input

SIZES = [(240, 320), (320, 240), (360, 640), (224, 224), (200, 300), (480, 640), (270, 480), (100, 101)]


def _smooth_frame(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth RGB frame (low-frequency waves): resampling differences stay small, shifts do not."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for _ in range(3):
        fy, fx, ph = rng.uniform(1.5, 4.0), rng.uniform(1.5, 4.0), rng.uniform(0, 2 * np.pi)
        chans.append(0.5 + 0.45 * np.sin(2 * np.pi * (fy * y / h + fx * x / w) + ph))
    return np.clip(np.rint(np.stack(chans, -1) * 255), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("h, w", SIZES + [(1080, 1920), (57, 3000), (3000, 57), (225, 224), (224, 1000)])
@pytest.mark.parametrize("image_size", [224, 32, 288])
def test_size_arithmetic_and_crop_offsets_equal_torchvision(h, w, image_size):
    import torchvision.transforms.functional as TF
    from torchvision.transforms.functional import _compute_resized_output_size

    assert list(resized_size(h, w, image_size)) == _compute_resized_output_size((h, w), [image_size])
    rh, rw = resized_size(h, w, image_size)
    index = torch.arange(rh * rw).view(1, rh, rw)
    cropped = TF.center_crop(index, [image_size, image_size])
    top, left = crop_offsets(rh, rw, image_size)
    assert int(cropped[0, 0, 0]) == top * rw + left


def test_320x240_is_resized_to_298x224_not_299():
    assert resized_size(240, 320, 224) == (224, 298)
    assert resized_size(320, 240, 224) == (298, 224)
    assert crop_offsets(224, 298, 224) == (0, 37)
    assert crop_offsets(224, 299, 224) == (0, 38)  # round half to even: 37.5 -> 38
    assert crop_offsets(224, 301, 224) == (0, 38)  # 38.5 -> 38


@pytest.mark.parametrize("h, w", SIZES)
def test_pixels_match_open_clip_preprocess(h, w):
    import open_clip

    preprocess = open_clip.image_transform(224, is_train=False, mean=OPENAI_MEAN, std=OPENAI_STD)
    frames = np.stack([_smooth_frame(h, w, seed) for seed in range(3)])
    ours = to_model_input(torch.from_numpy(frames), 224, OPENAI_MEAN, OPENAI_STD)
    theirs = torch.stack([preprocess(Image.fromarray(f)) for f in frames])
    assert ours.shape == theirs.shape == (3, 3, 224, 224)
    diff = (ours - theirs).abs().mean().item()
    # What is left is PIL's bicubic (8-bit, its own kernel support) vs torch's; a one-pixel shift of
    # the sampling grid (the old rounding of the long side) measured 0.03 on 320x240.
    assert diff <= 0.01, f"{h}x{w}: mean |ours - open_clip| = {diff:.4f}"
