"""MMN's training schedule around a `GroundingSystem`, with per-epoch evaluation, model selection
(A16), and a checkpoint per epoch that a killed run resumes from with identical numbers on CPU.

Schedule (docs/REPRODUCTION_NOTES.md, MMN): AdamW(betas 0.9/0.99, wd 1e-5), text tower at 0.1x LR and frozen for
epochs <= freeze_text_epochs, MultiStepLR at the milestones, contrastive x0.01 after the switch
epoch, gradient clipping, bf16 autocast on CUDA. Epochs are numbered from 1 as in MMN.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..context import RunContext
from ..errors import VdiError
from ..io import atomic_write
from ..metrics import evaluate
from ..predictions import from_scores, save_predictions
from .config import GroundingConfig
from .dataset import PreparedSplit, video_batches
from .pairs import pair_metrics
from .system import GroundingSystem, make_batch

CHECKPOINT = "grounding_checkpoint.pt"
LOSS_NAMES = ("total", "iou", "video", "sent", "vc", "sd")
COUNT_NAMES = ("n_vc", "n_sd")  # sentences per step that had an L^vc / L^sd term


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def selection_score(metrics: dict[str, float]) -> float:
    """A16: MMN picks the epoch with the best R@1 IoU=0.5 + R@1 IoU=0.7."""
    return metrics["R@1,IoU=0.5"] + metrics["R@1,IoU=0.7"]


@dataclass
class History:
    curves: dict[str, list[float]] = field(default_factory=dict)
    evals: dict[int, dict[str, float]] = field(default_factory=dict)  # epoch -> metrics

    def add(self, name: str, value: float) -> None:
        self.curves.setdefault(name, []).append(float(value))


def run_key(cfg: GroundingConfig, seed: int, data_fingerprint: str) -> str:
    """What a checkpoint must match to be resumed: the config, the seed and the data."""
    blob = json.dumps({"cfg": asdict(cfg), "seed": seed, "data": data_fingerprint}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def build_optimizer(system: GroundingSystem, cfg: GroundingConfig):
    t = cfg.train
    text_params, base_params = [], []
    for name, p in system.named_parameters():
        if name.startswith("text."):
            if t.freeze_token_embedding and ("token_embedding" in name or "word_embeddings" in name):
                p.requires_grad_(False)
                continue
            text_params.append(p)
        else:
            base_params.append(p)
    # foreach: one kernel per update step for all tensors instead of ~15 per parameter; the same
    # weights bit for bit on CPU (measured: 88 mini steps, identical state) and ~11 % off a mini run
    optimizer = torch.optim.AdamW(
        [{"params": base_params, "lr": t.lr}, {"params": text_params, "lr": t.lr * t.text_lr_scale}],
        lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay, foreach=True)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(t.milestones), gamma=t.gamma)
    return optimizer, scheduler, text_params


def _autocast(device: str):
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=str(device).startswith("cuda"))


def evaluate_split(system: GroundingSystem, split: PreparedSplit, cfg: GroundingConfig,
                   device: str, keep: Path | None = None) -> dict[str, float]:
    """Metrics of the split; `keep` also saves each query's top-5 moments there (predictions.py)."""
    was_training = system.training
    system.eval()
    n = cfg.model.num_clips
    scores = torch.zeros(split.num_queries, n, n)
    with torch.no_grad(), _autocast(device):
        for rows in video_batches(len(split.vids), cfg.train.eval_batch_size, None):
            batch = make_batch(split, rows, n, device)
            scores[batch.query_index] = system.batch_scores(batch).float().cpu()
    system.train(was_training)
    durations, mask = split.durations[split.video_of], system.mmn.mask2d.cpu()
    metrics = evaluate(scores, mask, durations, split.moments, nms=cfg.train.nms)
    pairs = {}
    if split.pair_groups:  # the mini world's verb / noun pairs (grounding/pairs.py)
        pair_values, pairs = pair_metrics(scores, mask, durations, split.moments, split.pair_groups)
        metrics.update(pair_values)
    if keep is not None:
        pred = from_scores(scores, mask, split, cfg.train.nms)
        save_predictions(keep, replace(pred, pairs={k: np.asarray(v) for k, v in pairs.items()}))
    return metrics


def epoch_predictions(ctx: RunContext, epoch: int) -> Path:
    return Path(ctx.work_dir) / f"predictions_epoch{epoch}.npz"


def _save(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def _load_checkpoint(path: Path, log) -> dict | None:
    """The checkpoint's state, or None (after a warning, the file discarded) when it cannot be read:
    a corrupt checkpoint restarts its run from scratch instead of blocking the row forever."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or not {"key", "epoch", "model", "optimizer", "scheduler", "rng",
                                                "curves", "evals"} <= set(state):
            raise ValueError("not a grounding checkpoint")
        return state
    except Exception as e:  # noqa: BLE001 - unpickling a damaged file raises almost anything
        log(f"grounding: WARNING: checkpoint {path} is unreadable ({type(e).__name__}: {e}); "
            f"discarding it and starting this run from scratch")
        path.unlink(missing_ok=True)
        return None


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "random": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["random"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(system: GroundingSystem, train_split: PreparedSplit, eval_split: PreparedSplit, cfg: GroundingConfig,
          ctx: RunContext, key: str) -> tuple[History, int]:
    """Train for cfg.train.epochs, evaluating every eval_every epochs and at the last.
    Returns the history and the number of the first epoch this call ran (1 unless resumed)."""
    t, device = cfg.train, ctx.device
    system.to(device).train()
    optimizer, scheduler, text_params = build_optimizer(system, cfg)
    history, start = History(), 1
    ckpt_path = Path(ctx.work_dir) / CHECKPOINT
    # RNG states must stay CPU tensors; load_state_dict moves weights to the model's device.
    state = _load_checkpoint(ckpt_path, ctx.log) if ckpt_path.is_file() else None
    if state is not None:
        if state.get("key") == key:
            system.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            _set_rng_state(state["rng"])
            history = History(state["curves"], {int(k): v for k, v in state["evals"].items()})
            start = state["epoch"] + 1
            ctx.log(f"grounding: resuming after epoch {state['epoch']} from {ckpt_path}")
        else:
            ctx.log(f"grounding: ignoring checkpoint {ckpt_path} of another run")
    for epoch in range(start, t.epochs + 1):
        frozen = epoch <= t.freeze_text_epochs
        system.text_frozen = frozen
        for p in text_params:
            p.requires_grad_(not frozen)
        generator = torch.Generator().manual_seed(ctx.seed * 1_000_003 + epoch)
        sums: dict[str, float] = {}
        steps = 0
        for step, rows in enumerate(video_batches(len(train_split.vids), t.batch_size, generator)):
            batch = make_batch(train_split, rows, cfg.model.num_clips, device)
            with _autocast(device):
                losses = system.batch_losses(batch, epoch)
            loss = losses["total"]
            if not torch.isfinite(loss):
                raise VdiError(f"grounding training diverged: loss is {float(loss)} at epoch {epoch}, step {step}; "
                               "check the features for extreme values or lower train.lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in system.parameters() if p.grad is not None], t.clip_grad)
            optimizer.step()
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            steps += 1
        history.add("lr", optimizer.param_groups[0]["lr"])
        scheduler.step()
        for name in LOSS_NAMES:
            if name in sums:
                history.add(f"loss_{name}", sums[name] / steps)
        for name in COUNT_NAMES:
            if name in sums:
                history.add(f"vdi_{name}_per_step", sums[name] / steps)
        if epoch % t.eval_every == 0 or epoch == t.epochs:
            # Each evaluated epoch's predictions wait in the work folder (a resumed run keeps them);
            # the task publishes the selected epoch's.
            keep = epoch_predictions(ctx, epoch) if ctx.artifact_dir is not None else None
            history.evals[epoch] = evaluate_split(system, eval_split, cfg, device, keep=keep)
            score = selection_score(history.evals[epoch])
            ctx.log(f"grounding: epoch {epoch}/{t.epochs} loss {sums['total'] / steps:.4f} "
                    f"R@1 IoU=0.5 {history.evals[epoch]['R@1,IoU=0.5']:.2f} IoU=0.7 "
                    f"{history.evals[epoch]['R@1,IoU=0.7']:.2f} (selection {score:.2f})")
        _save(ckpt_path, {"key": key, "epoch": epoch, "model": system.state_dict(),
                          "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                          "rng": _rng_state(), "curves": history.curves, "evals": history.evals})
        ctx.progress("epoch", epoch, t.epochs)
    return history, start


def select(history: History, selection: str) -> tuple[int, int]:
    """(selected epoch, last evaluated epoch) under A16: best by R@1@0.5 + R@1@0.7, the first
    such epoch on ties; or simply the last."""
    epochs = sorted(history.evals)
    last = epochs[-1]
    if selection == "last":
        return last, last
    best = max(epochs, key=lambda e: (selection_score(history.evals[e]), -e))
    if math.isnan(selection_score(history.evals[best])):
        raise VdiError("grounding: evaluation produced NaN metrics; cannot select an epoch")
    return best, last
