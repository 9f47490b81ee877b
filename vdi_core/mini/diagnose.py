"""Does a trained grounding model read the verbs of the toy world? (a mini-profile diagnostic)

Every toy video has an actor doing two things (the noun distractor) and a second actor doing one of
the same things (the verb distractor). For each pair of queries about the same actor in a video
(same nouns, different verbs, moments apart) a query scores 1 when its top-1 proposal overlaps its
own moment more than its twin's, 0.5 on a tie. A model blind to verbs scores 0.5 whatever else it
knows; the same score over pairs of queries with the same verb measures the nouns.

    python -m vdi_core.mini.diagnose table6 mmn_vit_joint [--seed 0]

It trains the row's model once (as `vdi run` would, ~35 s) and scores its last epoch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

from ..errors import VdiError
from ..grounding.proposals import cell_times


def _tiou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def pair_accuracy(pred, moments, groups, max_overlap: float = 0.3) -> tuple[float, int]:
    """Mean over ordered pairs (i, j) within a group, whose moments overlap by at most
    `max_overlap` tIoU, of [tIoU(pred_i, m_i) > tIoU(pred_i, m_j)] (0.5 on a tie); and the count."""
    wins, total = 0.0, 0
    for members in groups:
        for i in members:
            for j in members:
                if i == j or _tiou(moments[i], moments[j]) > max_overlap:
                    continue
                own, twin = _tiou(pred[i], moments[i]), _tiou(pred[i], moments[j])
                wins += 0.5 if own == twin else float(own > twin)
                total += 1
    if total == 0:
        raise VdiError("no query pairs to compare: the split has no two queries about one actor")
    return wins / total, total


def top1_moments(scores: torch.Tensor, mask: torch.Tensor, durations: torch.Tensor) -> list[tuple[float, float]]:
    """The best valid cell of each [N, N] score map, in seconds."""
    q, n = scores.shape[0], scores.shape[1]
    best = scores.masked_fill(~mask, float("-inf")).reshape(q, n * n).argmax(1)
    times = cell_times(n, durations).reshape(q, n * n, 2)
    return [tuple(t) for t in times[torch.arange(q), best].tolist()]


def diagnose(table: str, row: str, seed: int = 0, log=print) -> dict[str, float]:
    from ..grounding.system import GroundingSystem, make_batch
    from ..grounding.task import _prepare, load_splits
    from ..grounding.trainer import seed_everything, train, video_batches
    from ..runner import make_context, pin_threads, plan
    from ..spec import find_spec
    from ..towers.factory import build_text_tower
    from .build import MiniBuild
    from .sources import toy_split

    # plan() names an unknown table or row with a did-you-mean
    matches = [p for p in plan(find_spec(table), "mini", seeds=seed + 1, rows=[row]) if p.seed == seed]
    if not matches:
        raise VdiError(f"{table}: row '{row}' does not run on the mini profile")
    cfg = matches[0].config
    if cfg.model.method != "mmn":
        raise VdiError(f"{table}:{row} trains no model (method {cfg.model.method})")
    pin_threads("mini")
    ctx = make_context("mini", seed, "cpu", Path(tempfile.mkdtemp()), log=lambda s: None)
    splits = load_splits(cfg, ctx)
    train_split, eval_split, _, _ = _prepare(cfg, splits, ctx, cfg.vdi.lambda_sd > 0)
    seed_everything(seed)
    tower = build_text_tower(splits.text, "cpu")
    seed_everything(seed)
    system = GroundingSystem(cfg, tower, splits.feature_dim, seed=seed)
    log(f"training {table}:{row} seed {seed} ({cfg.train.epochs} epochs)")
    train(system, train_split, eval_split, cfg, ctx, key=f"diagnose-{matches[0].key}")
    system.eval()
    n = cfg.model.num_clips
    scores = torch.zeros(eval_split.num_queries, n, n)
    with torch.no_grad():
        for rows in video_batches(len(eval_split.vids), cfg.train.eval_batch_size, None):
            batch = make_batch(eval_split, rows, n, "cpu")
            scores[batch.query_index] = system.batch_scores(batch).float()
    pred = top1_moments(scores, system.mmn.mask2d, eval_split.durations[eval_split.video_of])
    roles = {}
    for script in MiniBuild(ctx.cache_dir).splits()[toy_split(cfg.data.eval_split)]:
        for k, _ in script.queries:
            roles[f"{script.vid}#{k}"] = (script.vid, script.events[k].actor, script.events[k].action)
    by_actor, by_verb = defaultdict(list), defaultdict(list)
    for i, qid in enumerate(eval_split.qids):
        vid, actor, action = roles[qid]
        by_actor[(vid, actor)].append(i)
        by_verb[(vid, action)].append(i)
    moments = eval_split.moments.tolist()
    verb_acc, verb_n = pair_accuracy(pred, moments, by_actor.values())
    noun_acc, noun_n = pair_accuracy(pred, moments, by_verb.values())
    return {"verb_pairs": verb_acc, "verb_pair_count": verb_n, "noun_pairs": noun_acc, "noun_pair_count": noun_n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vdi_core.mini.diagnose", description=__doc__.split("\n\n")[0])
    ap.add_argument("table")
    ap.add_argument("row")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        r = diagnose(args.table, args.row, args.seed)
    except VdiError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.table}:{args.row} seed {args.seed}: verb pairs {r['verb_pairs']:.3f} of {r['verb_pair_count']}, "
          f"noun pairs {r['noun_pairs']:.3f} of {r['noun_pair_count']} (a model blind to them: 0.500)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
