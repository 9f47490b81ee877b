"""encode_frames / the preprocessing tensor path, on tiny random open_clip models."""

import numpy as np
import pytest
import torch

from vdi_core.errors import VdiError
from vdi_core.towers.image import OPENAI_MEAN, encode_frames, image_norm, patch_tokens, sample_indices, to_model_input

TEXT = {"context_length": 8, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1}


def _vit():
    import open_clip

    torch.manual_seed(0)
    vision = {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8}
    return open_clip.CLIP(embed_dim=16, vision_cfg=vision, text_cfg=TEXT).eval()


def _resnet(size=32):
    import open_clip

    torch.manual_seed(0)
    vision = {"image_size": size, "layers": [1, 1, 1, 1], "width": 8}
    return open_clip.CLIP(embed_dim=16, vision_cfg=vision, text_cfg=TEXT).eval()


def _frames(n, h=32, w=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_image_norm_defaults_to_openai():
    assert image_norm(_vit())[0] == OPENAI_MEAN


def test_sample_indices_uniform_and_all():
    assert sample_indices(64, 4).tolist() == [0, 21, 42, 63]
    assert sample_indices(5, 8).tolist() == [0, 1, 2, 3, 4]


def test_vit_shapes_and_global_equals_encode_image():
    model = _vit()
    frames = _frames(10)
    g, p = encode_frames(model, frames, patch_frames=4, batch_size=3)
    assert g.shape == (10, 16) and g.dtype == np.float32
    assert p.shape == (4, 16, 16) and p.dtype == np.float32  # 4x4 grid of 8-px patches
    with torch.no_grad():
        ref = model.encode_image(to_model_input(torch.from_numpy(frames), 32, *image_norm(model)))
    np.testing.assert_allclose(g, ref.numpy(), atol=1e-5)


def test_vit_patches_are_ln_post_and_proj_of_the_tokens():
    model = _vit()
    frames = _frames(3)
    _, p = encode_frames(model, frames, patch_frames=3)
    x = to_model_input(torch.from_numpy(frames), 32, (0.48145466, 0.4578275, 0.40821073),
                       (0.26862954, 0.26130258, 0.27577711))
    model.visual.output_tokens = True
    with torch.no_grad():
        _, tokens = model.visual(x)  # open_clip's own token output (after ln_post, before proj)
    np.testing.assert_allclose(p, (tokens @ model.visual.proj).detach().numpy(), atol=1e-5)


def test_resnet_single_token_patch_equals_global_without_position():
    # At 32 px a ModifiedResNet has one spatial token; the attention pool's query is the mean of
    # the tokens, i.e. that token. With the positional embedding zeroed every attention weight
    # falls on equal values, so the pooled feature equals the patch feature through v and c.
    model = _resnet(32)
    with torch.no_grad():
        model.visual.attnpool.positional_embedding.zero_()
    g, p = encode_frames(model, _frames(4), patch_frames=4)
    assert p.shape == (4, 1, 16)
    np.testing.assert_allclose(p[:, 0], g, atol=1e-5)


def test_resnet_64px_has_a_2x2_grid():
    _, p = encode_frames(_resnet(64), _frames(5), patch_frames=2)
    assert p.shape == (2, 4, 16)


def test_no_patches_when_patch_frames_zero():
    g, p = encode_frames(_vit(), _frames(2), patch_frames=0)
    assert g.shape == (2, 16) and p is None


def test_to_model_input_resizes_shortest_side_and_crops_centre():
    frames = np.zeros((2, 48, 64, 3), np.uint8)
    frames[:, :, 24:40] = 255  # a white band in the middle columns
    x = to_model_input(torch.from_numpy(frames), 32, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert x.shape == (2, 3, 32, 32)
    # 64 -> 43 px wide, crop 5 px each side: the band (16..26.7 of 43) sits at columns 11..21
    assert x[0, 0, 16, 16] > 0.99 and x[0, 0, 16, 2] < 0.01


def test_to_model_input_normalises():
    frames = np.full((1, 32, 32, 3), 51, np.uint8)  # 0.2
    x = to_model_input(torch.from_numpy(frames), 32, (0.2, 0.1, 0.0), (1.0, 0.5, 2.0))
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), [0.0, 0.2, 0.1], atol=1e-6)


def test_bad_input_is_a_vdi_error():
    with pytest.raises(VdiError, match="uint8 frames"):
        encode_frames(_vit(), np.zeros((2, 32, 32, 3), np.float32), patch_frames=0)


def test_patch_tokens_unsupported_tower():
    class Fake:
        visual = torch.nn.Identity()

    with pytest.raises(VdiError, match="patch_frames = 0"):
        patch_tokens(Fake(), torch.zeros(1, 3, 8, 8))
