"""Table 1: does CLIP tell a sentence's image from one that differs in subject, verb or object?

Per triplet (sentence, positive image, negative image) the two image-sentence similarities are
normalised within the triplet (A14: softmax over the two logits, cosine x CLIP's logit scale), so
Pos + Neg = 1; Dif = Pos - Neg. Means are taken per negative type and over all triplets (S10)
before any rounding, as the paper's Overall Dif (0.59 != 0.79 - 0.21) shows it did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..context import RunContext
from ..datatypes import ProbeData, Triplet
from ..errors import VdiError, did_you_mean
from ..sources import get_source, source_entry
from . import Task, TaskResult

if TYPE_CHECKING:
    import torch

NEG_TYPES = ("subject", "verb", "object")


@dataclass
class ProbeDataConfig:
    source: str = "svo_triplets"
    # same name as the grounding config: vit-joint (CLIP ViT-B/32, A1) | resnet-joint (RN50, A17)
    backbone: str = "vit-joint"
    root: str = ""  # paper: data root (empty: env VDI_DATA, else <repo>/data)
    count: int = 600  # mini: number of toy triplets
    weights: str = ""  # paper: a CLIP checkpoint path instead of the manifest's
    image_short_side: int = 224  # paper: shrink decoded images to this (CLIP's own resize, no change)


@dataclass
class ProbeConfig:
    data: ProbeDataConfig = field(default_factory=ProbeDataConfig)
    normalisation: str = field(default="softmax", metadata={"assumption": "A14"})
    batch_size: int = 64


# --- normalisation within a triplet (A14) --------------------------------------------------------
# Each takes the two logits (cosine x logit scale) and the two cosines, [N] each, and returns
# (pos, neg) scores that sum to 1 per triplet.


def _softmax(pos_logit, neg_logit, pos_cos, neg_cos):
    import torch

    p = torch.softmax(torch.stack([pos_logit, neg_logit], dim=-1), dim=-1)
    return p[..., 0], p[..., 1]


def _share_of_sum(pos_logit, neg_logit, pos_cos, neg_cos):
    # cosine shares; only meaningful while both cosines are positive, as CLIP's usually are
    total = pos_cos + neg_cos
    return pos_cos / total, neg_cos / total


NORMALISATIONS: dict[str, Callable] = {"softmax": _softmax, "sum": _share_of_sum}


def normalise(method: str, pos_cos: torch.Tensor, neg_cos: torch.Tensor, logit_scale: float):
    if method not in NORMALISATIONS:
        raise VdiError(f"normalisation: unknown '{method}'{did_you_mean(method, NORMALISATIONS)}")
    return NORMALISATIONS[method](pos_cos * logit_scale, neg_cos * logit_scale, pos_cos, neg_cos)


# --- encoding -------------------------------------------------------------------------------------


def _image_key(img: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest() + str(img.shape)


def encode_images(model, preprocess, images: list[np.ndarray], batch_size: int, device: str,
                  progress=lambda stage, i, n: None) -> tuple[torch.Tensor, list[int]]:
    """L2-normalised features of the distinct images, and each input's row. Identical images
    (same pixels, e.g. the same positive in several triplets) are encoded once."""
    import torch
    from PIL import Image

    rows, keys, unique, by_obj = [], {}, [], {}
    for img in images:
        key = by_obj.get(id(img)) or _image_key(img)  # shared arrays are hashed once
        by_obj[id(img)] = key
        if key not in keys:
            keys[key] = len(unique)
            unique.append(img)
        rows.append(keys[key])
    feats = []
    with torch.inference_mode():
        for start in range(0, len(unique), batch_size):
            batch = torch.stack([preprocess(Image.fromarray(a)) for a in unique[start : start + batch_size]])
            feats.append(model.encode_image(batch.to(device), normalize=True).float().cpu())
            progress("encode images", min(start + batch_size, len(unique)), len(unique))
    return torch.cat(feats) if feats else torch.zeros(0), rows


def encode_sentences(model, tokenizer, sentences: list[str], batch_size: int,
                     device: str) -> tuple[torch.Tensor, list[int]]:
    import torch

    index = {s: i for i, s in enumerate(dict.fromkeys(sentences))}
    unique = list(index)
    with torch.inference_mode():
        feats = [
            model.encode_text(tokenizer(unique[i : i + batch_size]).to(device), normalize=True).float().cpu()
            for i in range(0, len(unique), batch_size)
        ]
    return torch.cat(feats) if feats else torch.zeros(0), [index[s] for s in sentences]


def triplet_cosines(model, preprocess, tokenizer, triplets: list[Triplet], batch_size: int, device: str,
                    progress=lambda stage, i, n: None) -> tuple[torch.Tensor, torch.Tensor]:
    images = [t.positive for t in triplets] + [t.negative for t in triplets]
    img_feats, img_rows = encode_images(model, preprocess, images, batch_size, device, progress)
    txt_feats, txt_rows = encode_sentences(model, tokenizer, [t.sentence for t in triplets], batch_size, device)
    n = len(triplets)
    text = txt_feats[txt_rows]
    pos = (img_feats[img_rows[:n]] * text).sum(-1)
    neg = (img_feats[img_rows[n:]] * text).sum(-1)
    return pos, neg


def summarise(pos: np.ndarray, neg: np.ndarray, types: list[str]) -> tuple[dict[str, float], dict]:
    """Metrics `{type}.{pos|neg|dif}` for overall and each negative type (types without
    triplets are left out, not reported as 0), plus counts and pairwise accuracy."""
    types_arr = np.asarray(types)
    metrics, counts, accuracy = {}, {}, {}
    for name in ("overall",) + NEG_TYPES:
        sel = np.ones(len(types_arr), bool) if name == "overall" else types_arr == name
        counts[name] = int(sel.sum())
        if not sel.any():
            continue
        metrics[f"{name}.pos"] = float(pos[sel].mean())
        metrics[f"{name}.neg"] = float(neg[sel].mean())
        metrics[f"{name}.dif"] = float((pos[sel] - neg[sel]).mean())
        accuracy[name] = float((pos[sel] > neg[sel]).mean())  # share of triplets ranked right
    return metrics, {"counts": counts, "accuracy": accuracy}


def run(cfg: ProbeConfig, ctx: RunContext) -> TaskResult:
    from ..towers.clip import load_clip

    if cfg.normalisation not in NORMALISATIONS:  # fail before any data is built
        raise VdiError(f"normalisation: unknown '{cfg.normalisation}'{did_you_mean(cfg.normalisation, NORMALISATIONS)}")
    data: ProbeData = get_source(ctx.profile, cfg.data.source)(cfg.data, ctx)
    stated = fingerprint(cfg, ctx).get("data")  # the run key's identity must be the data's own
    if stated is not None and stated != data.fingerprint:
        raise VdiError(f"data source '{cfg.data.source}' ({ctx.profile}) states fingerprint {stated} but its data "
                       f"carries {data.fingerprint}; fix the source's fingerprint hook")
    bad = sorted({t.neg_type for t in data.triplets} - set(NEG_TYPES))
    if bad:
        raise VdiError(f"probe data has negative types {bad}; expected {list(NEG_TYPES)}")
    if not data.triplets:
        raise VdiError(f"probe data '{cfg.data.source}' ({ctx.profile}) has no scorable triplets: {data.unavailable}")
    model, preprocess, tokenizer = load_clip(data.clip, ctx.device)
    pos_cos, neg_cos = triplet_cosines(model, preprocess, tokenizer, data.triplets, cfg.batch_size,
                                       ctx.device, ctx.progress)
    scale = float(model.logit_scale.detach().exp())
    pos, neg = normalise(cfg.normalisation, pos_cos, neg_cos, scale)
    metrics, extra = summarise(pos.numpy(), neg.numpy(), [t.neg_type for t in data.triplets])
    extra.update(unavailable=dict(data.unavailable), logit_scale=scale, data_fingerprint=data.fingerprint,
                 model_fingerprint=data.clip.fingerprint, mean_cosine={"pos": float(pos_cos.mean()),
                                                                        "neg": float(neg_cos.mean())})
    lost = {k: v for k, v in data.unavailable.items() if v}
    if lost:
        ctx.log(f"probe: not scored (counted, see extra.unavailable): {lost}")
    return TaskResult(metrics=metrics, extra=extra)


def input_fingerprint(data_cfg, ctx: RunContext) -> dict[str, str]:
    """Identity of a CLIP-reading task's inputs (Table 1 here, Figure 1 too): the source and model
    names, plus the paper csv/weights hashes or the mini world's and models' keys."""
    out = {"source": f"{ctx.profile}:{data_cfg.source}", "backbone": data_cfg.backbone}
    if ctx.profile == "paper":
        from ..data.paper_probe import input_fingerprint as paper_inputs

        out.update(paper_inputs(data_cfg, data_cfg.source))
    else:  # a source that states its identity cheaply (the mini world's and models' keys)
        cheap = source_entry(ctx.profile, data_cfg.source).fingerprint
        if cheap is not None:
            out.update(cheap(data_cfg, ctx))
    return out


def fingerprint(cfg: ProbeConfig, ctx: RunContext) -> dict[str, str]:
    return input_fingerprint(cfg.data, ctx)


TASK = Task("probe", ProbeConfig, run, fingerprint)
