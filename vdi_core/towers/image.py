"""Frame features from an open_clip image tower: global (X^v) and patch (X~^v) features.

`encode_frames` takes decoded frames (uint8 [T, H, W, 3], a real video's or the toy world's) and
runs them through the same tensor path as open_clip's preprocessing (resize of the shortest side,
centre crop, normalise) without a PIL image per frame. Patch features live in the joint space
(A2): a ViT's patch tokens through its final LayerNorm and projection; a ModifiedResNet's spatial
tokens through the attention-pool's value and output projections (the attention pool's query
mixing is skipped, so each token stays at its place). Features are returned unnormalised; the
grounding model L2-normalises per frame.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import VdiError

__all__ = ["TRANSFORM_VERSION", "encode_frames", "image_norm", "to_model_input", "patch_tokens", "sample_indices"]

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def image_norm(model) -> tuple[tuple, tuple]:
    """(mean, std) the model's preprocessing normalises with (open_clip's OpenAI defaults)."""
    vis = model.visual
    cfg = getattr(vis, "preprocess_cfg", None) or {}
    mean = cfg.get("mean") or getattr(vis, "image_mean", None) or OPENAI_MEAN
    std = cfg.get("std") or getattr(vis, "image_std", None) or OPENAI_STD
    return tuple(mean), tuple(std)


def _image_size(model) -> int:
    size = model.visual.image_size
    return int(size if isinstance(size, int) else size[0])


# Bumped whenever the pixels a frame becomes change; part of a feature set's declaration
# (features/extract.py), so features made by an older transform are never reused.
TRANSFORM_VERSION = 2  # 2: torchvision's size arithmetic and crop offsets (1 rounded the long side)


def resized_size(h: int, w: int, image_size: int) -> tuple[int, int]:
    """(h, w) after torchvision's `Resize(image_size)` (shortest side), which open_clip's eval
    transform uses: the long side is *truncated*, int(S * long / short) -- 320x240 -> 298x224,
    not the rounded 299 (torchvision.transforms.functional._compute_resized_output_size)."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = image_size, int(image_size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return new_h, new_w


def crop_offsets(h: int, w: int, image_size: int) -> tuple[int, int]:
    """(top, left) of torchvision's `CenterCrop(image_size)`: int(round((size - crop) / 2.0)), with
    Python's round-half-to-even (a 75 px margin gives 38, a 77 px one 38 too)."""
    return int(round((h - image_size) / 2.0)), int(round((w - image_size) / 2.0))


def to_model_input(frames: torch.Tensor, image_size: int, mean, std) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float [N, 3, S, S]: shortest side resized to S (bicubic, antialiased),
    centre crop, then (x - mean) / std -- the pixels open_clip's eval transform (`Resize(S)`,
    `CenterCrop(S)`, ToTensor, Normalize) gives for a PIL image, with torchvision's exact size
    arithmetic and crop offsets; what is left is PIL's vs torch's bicubic (tests/test_transform.py)."""
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)
    h, w = x.shape[-2:]
    new = resized_size(h, w, image_size)
    if new != (h, w):  # torchvision skips the resize when the size already matches
        x = F.interpolate(x, size=new, mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)
        h, w = new
    top, left = crop_offsets(h, w, image_size)
    x = x[..., top:top + image_size, left:left + image_size]
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def _vit_patches(vis, x: torch.Tensor) -> torch.Tensor:
    if getattr(vis, "attn_pool", None) is not None:
        raise VdiError("patch features of a ViT with an attention-pool head are not supported; set patch_frames = 0")
    h = vis.transformer(vis._embeds(x))
    if vis.final_ln_after_pool:
        tokens = vis.ln_post(h[:, 1:])
    else:
        tokens = vis.ln_post(h)[:, 1:]
    return tokens @ vis.proj if vis.proj is not None else tokens


def _resnet_patches(vis, x: torch.Tensor) -> torch.Tensor:
    h = vis.stem(x)
    h = vis.layer4(vis.layer3(vis.layer2(vis.layer1(h))))
    pool = vis.attnpool
    tokens = h.flatten(2).permute(0, 2, 1)  # [N, HW, C]
    tokens = tokens + pool.positional_embedding[1:].to(tokens.dtype)
    return pool.c_proj(pool.v_proj(tokens))


def patch_tokens(model, x: torch.Tensor) -> torch.Tensor:
    """Per-patch features in the joint space, [N, P, D], for a preprocessed batch x."""
    from open_clip.modified_resnet import ModifiedResNet
    from open_clip.transformer import VisionTransformer

    vis = model.visual
    if isinstance(vis, VisionTransformer):
        return _vit_patches(vis, x)
    if isinstance(vis, ModifiedResNet):
        return _resnet_patches(vis, x)
    raise VdiError(f"patch features are not implemented for image tower {type(vis).__name__}; "
                   "set patch_frames = 0 to use global features only")


def sample_indices(total: int, count: int) -> np.ndarray:
    """`count` frame indices spread uniformly over `total` frames (all frames if count >= total)."""
    if count >= total:
        return np.arange(total)
    return np.rint(np.linspace(0, total - 1, count)).astype(int)


@torch.inference_mode()
def encode_frames(model, frames: np.ndarray, *, patch_frames: int, batch_size: int = 256,
                  device: str = "cpu"):
    """(global [T, D] float32, patches [T', P, D] float32 or None) for uint8 frames [T, H, W, 3].

    Patches are computed for `patch_frames` frames sampled uniformly over the T frames
    (`sample_indices`); `patch_frames = 0` gives None."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VdiError(f"encode_frames expects uint8 frames [T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
    model = model.to(device).eval()
    size, (mean, std) = _image_size(model), image_norm(model)
    t_all = torch.from_numpy(np.ascontiguousarray(frames))
    pick = set(sample_indices(len(frames), patch_frames).tolist()) if patch_frames > 0 else set()
    glob, patches = [], []
    for lo in range(0, len(frames), batch_size):
        x = to_model_input(t_all[lo:lo + batch_size], size, mean, std).to(device)
        glob.append(model.encode_image(x).float().cpu())
        rows = [i - lo for i in range(lo, min(lo + batch_size, len(frames))) if i in pick]
        if rows:
            patches.append(patch_tokens(model, x[rows]).float().cpu())
    g = torch.cat(glob).numpy() if glob else np.zeros((0, model.visual.output_dim), np.float32)
    p = torch.cat(patches).numpy() if patches else None
    return g.astype(np.float32, copy=False), p
