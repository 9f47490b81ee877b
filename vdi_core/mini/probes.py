"""Acceptance probes of the micro-CLIPs on held-out frames (never seen in pre-training).

* zero-shot attribute retrieval: for each frame, pick among captions of its first actor that
  differ in one attribute only (colour: 6 options, shape: 6, box position: 4); chance = 1/options.
* the Table 1 premise: on SVO triplets, how often the sentence is closer to its positive frame
  than to the negative, per negative type (subject / verb / object); chance = 0.5.
"""

from __future__ import annotations

import numpy as np
import torch

from . import frames as frames_mod


@torch.inference_mode()
def _encode(model, tokenizer, frames: np.ndarray, texts: list[str]):
    from ..towers.image import encode_frames

    img, _ = encode_frames(model, frames, patch_frames=0)
    img = torch.nn.functional.normalize(torch.from_numpy(img), dim=-1)
    txt = torch.nn.functional.normalize(model.encode_text(tokenizer(texts)).float(), dim=-1)
    return img, txt


def zero_shot(model, tokenizer, world: dict, count: int = 1000) -> dict[str, float]:
    """Accuracy (and chance) of picking the right colour / shape / box position of actor 0."""
    frames, _, scenes = frames_mod.pretrain_set(world, world["seed"], "held_out")
    frames, scenes = frames[:count], scenes[:count]
    colours, shapes = list(world["vocab"]["colours"]), world["vocab"]["shapes"]
    positions = world["vocab"]["landmark_positions"]
    probes = {
        "colour": (colours, lambda s, v: f"a {v} {s.actors[0].shape}", lambda s: s.actors[0].colour),
        "shape": (shapes, lambda s, v: f"a {s.actors[0].colour} {v}", lambda s: s.actors[0].shape),
        "box_position": (positions, lambda s, v: f"a {s.actors[0].colour} {s.actors[0].shape} near the "
                                                 f"{s.landmark[1]} box on the {v}", lambda s: s.landmark[0]),
    }
    out = {}
    for name, (options, text, truth) in probes.items():
        hits = 0
        for lo in range(0, len(scenes), 250):
            chunk = scenes[lo:lo + 250]
            texts = [text(s, v) for s in chunk for v in options]
            img, txt = _encode(model, tokenizer, frames[lo:lo + 250], texts)
            sims = (img[:, None, :] * txt.view(len(chunk), len(options), -1)).sum(-1)
            pred = sims.argmax(1).numpy()
            hits += sum(options[p] == truth(s) for p, s in zip(pred, chunk))
        out[f"{name}_acc"] = hits / len(scenes)
        out[f"{name}_chance"] = 1.0 / len(options)
    return out


def svo_premise(model, tokenizer, world: dict, count: int = 600) -> dict[str, float]:
    """acc(cos(sentence, positive) > cos(sentence, negative)) per negative type."""
    rows = frames_mod.triplets(world, world["seed"], count)
    sents = [r[0] for r in rows]
    pos_img, txt = _encode(model, tokenizer, np.stack([r[1] for r in rows]), sents)
    neg_img, _ = _encode(model, tokenizer, np.stack([r[2] for r in rows]), sents[:1])
    win = ((pos_img * txt).sum(-1) > (neg_img * txt).sum(-1)).numpy()
    kinds = np.array([r[3] for r in rows])
    return {f"{k}_acc": float(win[kinds == k].mean()) for k in ("subject", "verb", "object")}
