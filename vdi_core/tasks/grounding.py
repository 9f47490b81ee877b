"""The `grounding` task (Tables 2-6): one table row for one seed.

data source -> GroundingSplits -> validated tensors -> MMN (+ VDI) trained with MMN's schedule
-> metrics of the selected epoch (A16), x100: R@{1,5} at IoU {0.3, 0.5, 0.7} and mIoU; plus, when the
source tags who does what (the mini world), verb and noun pair accuracies, 0-1 (grounding/pairs.py).
`model.method = "fixed_prior"` skips training and scores the best fixed proposal instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict

from ..context import BuildJob, RunContext
from ..datatypes import GroundingSplits
from ..errors import VdiError
from ..grounding.config import GroundingConfig, validate
from ..resolve import assumption_values
from ..sources import get_source, source_entry
from . import Task, TaskResult

_SPLITS_CACHE: dict[tuple, GroundingSplits] = {}


def load_splits(cfg: GroundingConfig, ctx: RunContext) -> GroundingSplits:
    """The data source's splits; remembered for the last data config so `fingerprint` and `run` (and
    every seed of a row) load once. One entry only: paper-profile splits can take gigabytes."""
    key = (ctx.profile, str(ctx.cache_dir), repr(asdict(cfg.data)))
    if key not in _SPLITS_CACHE:
        splits = get_source(ctx.profile, cfg.data.source)(cfg.data, ctx)
        if not isinstance(splits, GroundingSplits):
            raise VdiError(f"data source '{cfg.data.source}' of profile '{ctx.profile}' returned "
                           f"{type(splits).__name__}, the grounding task needs GroundingSplits; set data.source")
        _SPLITS_CACHE.clear()
        _SPLITS_CACHE[key] = splits
    return _SPLITS_CACHE[key]


def fingerprint(cfg: GroundingConfig, ctx: RunContext) -> dict[str, str]:
    """The identity of a row's inputs for its run key. Sources that can state it without loading
    (mini, paper) are asked directly; `run` checks the loaded splits carry the same identity."""
    cheap = source_entry(ctx.profile, cfg.data.source).fingerprint
    if cheap is not None:
        return cheap(cfg.data, ctx)
    return _loaded_fingerprint(load_splits(cfg, ctx))


def _loaded_fingerprint(splits: GroundingSplits) -> dict[str, str]:
    return {"data": splits.fingerprint, "text_tower": splits.text.fingerprint}


def prebuild(cfgs: list[GroundingConfig], ctx: RunContext) -> list[BuildJob]:
    """The data sources' shared build jobs (the mini backbones) for these runs' data configs."""
    by_source: dict[str, list] = {}
    for cfg in cfgs:
        by_source.setdefault(cfg.data.source, []).append(cfg.data)
    jobs = []
    for source, data_cfgs in sorted(by_source.items()):
        hook = source_entry(ctx.profile, source).prebuild
        if hook is not None:
            jobs.extend(hook(data_cfgs, ctx))
    return jobs


def _prepare(cfg: GroundingConfig, splits: GroundingSplits, ctx: RunContext, need_dynamic: bool):
    from ..grounding.dataset import prepare_split

    dynamic_fn = None
    if need_dynamic:
        from ..vdi.injection import spatial_dynamic_feature

        dynamic_fn = lambda video, moment: spatial_dynamic_feature(video, moment, cfg.vdi)  # noqa: E731
    common = dict(feature_dim=splits.feature_dim, num_pre_clips=cfg.data.num_pre_clips)
    train, skip_train = prepare_split(splits.train, dynamic_fn=dynamic_fn, split="train", **common)
    evals, skip_eval = prepare_split(splits.eval, split="eval", **common)
    skipped = Counter(splits.skipped)
    skipped.update({f"train/{k}": v for k, v in skip_train.items()})
    skipped.update({f"eval/{k}": v for k, v in skip_eval.items()})
    for reason, count in sorted(skipped.items()):
        ctx.log(f"grounding: skipped {count} ({reason})")
    counts = {"train_videos": len(train.vids), "train_queries": train.num_queries,
              "eval_videos": len(evals.vids), "eval_queries": evals.num_queries}
    return train, evals, dict(skipped), counts


def run(cfg: GroundingConfig, ctx: RunContext) -> TaskResult:
    from ..grounding.pairs import pair_counts, pair_groups
    from ..grounding.prior import evaluate_prior

    validate(cfg)
    splits = load_splits(cfg, ctx)
    stated = fingerprint(cfg, ctx)
    if stated != _loaded_fingerprint(splits):  # a source whose cheap identity drifted from its data
        raise VdiError(f"data source '{cfg.data.source}' ({ctx.profile}) states fingerprint {stated} but its "
                       f"loaded splits carry {_loaded_fingerprint(splits)}; fix the source's fingerprint hook")
    need_dynamic = cfg.model.method == "mmn" and cfg.vdi.lambda_sd > 0
    train_split, eval_split, skipped, counts = _prepare(cfg, splits, ctx, need_dynamic)
    eval_split.pair_groups = pair_groups(splits.eval, eval_split.qids)
    if eval_split.pair_groups:
        counts.update({f"{k}_count": v for k, v in pair_counts(eval_split.pair_groups, eval_split.moments).items()})
    m = cfg.model
    prior_metrics, prior_cell = evaluate_prior(train_split, eval_split, m.num_clips, m.pooling_counts, cfg.train.nms)
    extra = {"counts": counts, "skipped": skipped, "assumptions": assumption_values(cfg),
             "fixed_prior": {"metrics": prior_metrics, "cell": list(prior_cell)}}
    if m.method == "fixed_prior":
        ctx.progress("epoch", 1, 1)
        extra.update(_prior_predictions(train_split, eval_split, cfg, ctx))
        return TaskResult(metrics=prior_metrics, curves={}, extra=extra)

    from ..grounding.system import GroundingSystem
    from ..grounding.trainer import run_key, seed_everything, select, train
    from ..towers.factory import build_text_tower

    seed_everything(ctx.seed)  # a tower with random weights draws them here
    tower = build_text_tower(splits.text, ctx.device)
    seed_everything(ctx.seed)
    system = GroundingSystem(cfg, tower, splits.feature_dim, seed=ctx.seed)
    key = run_key(cfg, ctx.seed, splits.fingerprint)
    history, start = train(system, train_split, eval_split, cfg, ctx, key)
    chosen, last = select(history, cfg.train.selection)
    curves = dict(history.curves)
    evaluated = sorted(history.evals)
    curves["eval_epoch"] = [float(e) for e in evaluated]
    for name in history.evals[last]:
        curves[name] = [history.evals[e][name] for e in evaluated]
    extra.update(_publish_predictions(ctx, chosen))
    extra.update({"best_epoch": chosen, "last_epoch": last, "selection": cfg.train.selection,
                  "last_metrics": history.evals[last], "resumed_from_epoch": start if start > 1 else None})
    return TaskResult(metrics=dict(history.evals[chosen]), curves=curves, extra=extra)


def _prior_predictions(train_split, eval_split, cfg: GroundingConfig, ctx: RunContext) -> dict:
    """The prior's ranked fixed proposals for every eval query, kept like a trained run's."""
    if ctx.artifact_dir is None:
        return {}
    from .. import predictions
    from ..grounding.prior import prior_cell_scores
    from ..grounding.proposals import proposal_mask

    n = cfg.model.num_clips
    scores = prior_cell_scores(train_split, n, cfg.model.pooling_counts).expand(eval_split.num_queries, n, n).float()
    mask = proposal_mask(n, cfg.model.pooling_counts)
    return predictions.keep(predictions.from_scores(scores, mask, eval_split, cfg.train.nms), ctx.artifact_dir)


def _publish_predictions(ctx: RunContext, epoch: int) -> dict:
    """The selected epoch's predictions, from the work folder into the artifact folder."""
    from .. import predictions
    from ..grounding.trainer import epoch_predictions

    path = epoch_predictions(ctx, epoch)
    if ctx.artifact_dir is None:
        return {}
    if not path.is_file():  # resumed from a checkpoint written before predictions were kept
        ctx.log(f"grounding: no predictions kept for epoch {epoch}; claims on this run get no interval")
        return {}
    return predictions.keep(predictions.load_predictions(path), ctx.artifact_dir)


TASK = Task("grounding", GroundingConfig, run, fingerprint, version="1", prebuild=prebuild)
