"""Pre-training of the mini profile's backbones on single static frames of the toy world.

* "vit-joint" / "resnet-joint": micro-CLIPs (open_clip custom JSON configs), contrastive on
  (frame, state caption) pairs. Saved as <name>.json + <name>.pt so that
  `ModelSpec(kind="open_clip", model=<name>, config_path=<json>, weights=<pt>)` loads them.
* "separated": an image tower trained without text (classifying actor shape and colour, box
  position and colour) plus a DistilBERT trained without images (masked-LM on the captions),
  with a word-level WordPiece vocabulary of the world's words, saved as a HF directory.

Sizes and step counts (the backbone records, vdi_core/backbones.py) follow the toy-setting measurements
of docs/ENGINEERING_NOTES.md section 3 (2 CPU cores, a few minutes in all).
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..datatypes import ModelSpec
from ..io import atomic_write
from . import grammar
from .frames import FrameActor
from .micro_models import MODEL_CFGS, TEXT_CFG, PretrainConfig, model_cfg, stem_cfg


def world_pieces(world: dict) -> list[str]:
    """The compact vocabulary (A18): the CLIP BPE pieces of every word the world's grammar can
    emit (queries, captions, Table 1 sentences), in a fixed order."""
    from open_clip.tokenizer import SimpleTokenizer

    from ..towers.bpe import bpe_pieces

    v = world["vocab"]
    words = grammar.all_words(list(v["colours"]), v["shapes"], v["landmark_positions"])
    return bpe_pieces(SimpleTokenizer(context_length=TEXT_CFG["context_length"]), words)


@contextmanager
def torch_threads(n: int):
    """Run a block with n intra-op threads, restoring the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _lr_at(step: int, total: int, base: float, warmup: float) -> float:
    w = max(1, int(total * warmup))
    if step < w:
        return base * (step + 1) / w
    return base * 0.5 * (1 + math.cos(math.pi * (step - w) / max(1, total - w)))


def _batcher(model, frames: np.ndarray):
    """idx -> the model's input for those frames. Frames stay uint8 and are preprocessed per
    batch (open_clip's tensor path), so 20k frames read at 64 px never sit in memory as floats."""
    from ..towers.image import image_norm, to_model_input

    size = model.visual.image_size
    size = size if isinstance(size, int) else size[0]
    mean, std = image_norm(model)
    data = torch.from_numpy(frames)
    return lambda idx: to_model_input(data[idx], size, mean, std)


def _save(model, name: str, pieces: list[str], out_dir: Path, extra: dict) -> ModelSpec:
    from ..towers.clip import vocab_path
    from ..towers.stems import stem_path

    out_dir.mkdir(parents=True, exist_ok=True)
    cfg_path, w_path = out_dir / f"{name}.json", out_dir / f"{name}.pt"
    # the vocabulary and the trunk first: the config and weights written last mark the model as built
    _atomic(vocab_path(cfg_path), lambda p: p.write_text(json.dumps(pieces, indent=0)))
    stem = stem_cfg(name)
    if stem is not None:
        _atomic(stem_path(cfg_path), lambda p: p.write_text(json.dumps(stem, indent=1)))
    _atomic(cfg_path, lambda p: p.write_text(json.dumps(model_cfg(name, pieces), indent=1)))
    _atomic(w_path, lambda p: torch.save(model.state_dict(), p))
    _atomic(out_dir / f"{name}.train.json", lambda p: p.write_text(json.dumps(extra, indent=1)))
    return ModelSpec("open_clip", name, str(cfg_path), str(w_path))


def _atomic(path: Path, write) -> None:
    atomic_write(path, write)  # a unique temp name and the umask's mode (vdi_core/io.py)


def new_model(name: str, seed: int, pieces: list[str]):
    import open_clip

    from ..towers.stems import install_stem

    torch.manual_seed(seed)
    model = open_clip.CLIP(**model_cfg(name, pieces))
    stem = stem_cfg(name)
    return model if stem is None else install_stem(model, stem, f"backbones.py, {name}")


def contrastive_step(model, opt, images: torch.Tensor, tokens: torch.Tensor) -> float:
    """One CLIP step on a batch of frames and their captions' tokens; returns the loss."""
    img = model.encode_image(images, normalize=True)
    txt = model.encode_text(tokens, normalize=True)
    logits = model.logit_scale.exp() * img @ txt.T
    # identical captions in one batch are positives of each other, not negatives
    same = (tokens[:, None, :] == tokens[None, :, :]).all(-1).float()
    target = same / same.sum(1, keepdim=True)
    loss = 0.5 * (torch.sum(-target * F.log_softmax(logits, 1), 1).mean()
                  + torch.sum(-target * F.log_softmax(logits.T, 1), 1).mean())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, math.log(100))
    return loss.item()


def train_clip(name: str, frames: np.ndarray, captions: list[str], pieces: list[str], cfg: PretrainConfig,
               seed: int, out_dir: Path, log=print) -> ModelSpec:
    """Contrastive pre-training of a micro-CLIP on (frame, caption) pairs, token embedding included."""
    from ..towers.bpe import compact_tokenizer

    model = new_model(name, seed, pieces)
    tok = compact_tokenizer(pieces, TEXT_CFG["context_length"])
    # only a few thousand distinct captions: tokenise each once (docs/ENGINEERING_NOTES.md section 3, pitfall 5)
    uniq, inverse = np.unique(np.asarray(captions), return_inverse=True)
    tokens = tok(list(uniq))[torch.from_numpy(inverse)]
    batch_images = _batcher(model, frames)
    # the compact token embedding (~70 rows) is trained with the rest (A18): its update costs
    # nothing, and words then carry what the captions teach, as in a pre-trained CLIP
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.1)
    gen = torch.Generator().manual_seed(seed)
    steps, n = cfg.steps[name], len(frames)
    model.train()
    losses = []
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, steps, cfg.lr, cfg.warmup)
        idx = torch.randint(n, (cfg.batch_size,), generator=gen)
        losses.append(contrastive_step(model, opt, batch_images(idx), tokens[idx]))
        if step % 100 == 0 or step == steps - 1:
            log(f"[mini] pre-training {name}: step {step + 1}/{steps} loss {losses[-1]:.3f}")
    model.eval()
    extra = {"steps": steps, "final_loss": float(np.mean(losses[-20:])), "seed": seed}
    return _save(model, name, pieces, out_dir, extra)


def scene_labels(world: dict, scenes) -> dict[str, torch.Tensor]:
    """Per-frame class labels of the first actor and the box, for the text-free image tower."""
    colours, shapes = list(world["vocab"]["colours"]), world["vocab"]["shapes"]
    positions = world["vocab"]["landmark_positions"]
    size = world["render"]["size"]
    first: list[FrameActor] = [s.actors[0] for s in scenes]
    cell = [grammar.grid_cell(a.x, a.y, size) for a in first]
    return {
        "shape": torch.tensor([shapes.index(a.shape) for a in first]),
        "colour": torch.tensor([colours.index(a.colour) for a in first]),
        "cell": torch.tensor([r * 3 + c for r, c in cell]),
        "box_position": torch.tensor([positions.index(s.landmark[0]) for s in scenes]),
        "box_colour": torch.tensor([colours.index(s.landmark[1]) for s in scenes]),
    }


def train_separated_image(frames: np.ndarray, labels: dict[str, torch.Tensor], pieces: list[str],
                          cfg: PretrainConfig, seed: int, out_dir: Path, log=print) -> ModelSpec:
    """The image tower of an open_clip model trained by classification only (no text at all);
    its text tower stays random and is never used."""
    name = "separated-image"
    model = new_model(name, seed, pieces)
    heads = torch.nn.ModuleDict({k: torch.nn.Linear(MODEL_CFGS[name]["embed_dim"], int(v.max()) + 1)
                                 for k, v in labels.items()})
    batch_images = _batcher(model, frames)
    params = list(model.visual.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    steps = cfg.steps[name]
    model.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, steps, cfg.lr, cfg.warmup)
        idx = torch.randint(len(frames), (cfg.batch_size,), generator=gen)
        feat = model.encode_image(batch_images(idx), normalize=True) * 10.0
        loss = sum(F.cross_entropy(heads[k](feat), v[idx]) for k, v in labels.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"[mini] pre-training {name}: step {step + 1}/{steps} loss {loss.item():.3f}")
    model.eval()
    return _save(model, name, pieces, out_dir, {"steps": steps, "seed": seed})
