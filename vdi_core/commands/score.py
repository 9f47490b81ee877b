"""`vdi score`: evaluate any model's moment predictions against ground truth (vdi_core.metrics.score)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import VdiError


def _load_json(path: str, what: str):
    p = Path(path)
    if not p.is_file():
        raise VdiError(f"--{what} {path}: no such file; pass the path of a JSON file")
    try:
        with p.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise VdiError(f"--{what} {path}: not valid JSON at line {e.lineno}, column {e.colno}: "
                       f"{e.msg}") from None
    except UnicodeDecodeError:
        raise VdiError(f"--{what} {path}: not UTF-8 text; save the file as UTF-8 JSON") from None


def _nms_threshold(text: str):
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1] or 'none', got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1] or 'none', got {text!r}")
    return value


def run_score(args) -> int:
    pred = _load_json(args.pred, "pred")
    gt = _load_json(args.gt, "gt")
    from ..metrics import score  # imports torch: only when scoring (`vdi status` must start fast)

    metrics = score(pred, gt, nms=args.nms, pred_name=args.pred, gt_name=args.gt)
    print(json.dumps(metrics, indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "score",
        help="evaluate moment predictions: R@{1,5} at IoU {0.3,0.5,0.7} and mIoU (x100), as JSON",
        description=(
            "Evaluate moment-retrieval predictions as MMN does: rank each query's candidates by score "
            "(ties keep list order), greedy NMS, then R@n at IoU m (tIoU >= m) and mean top-1 tIoU, "
            "all x100. Ground-truth moments are clamped to [0, duration]."),
    )
    p.add_argument("--pred", required=True, metavar="P.json",
                   help='{"query id": [[start, end, score], ...], ...} in seconds, candidates in any order')
    p.add_argument("--gt", required=True, metavar="G.json",
                   help='{"query id": {"moment": [start, end], "duration": seconds}, ...}')
    p.add_argument("--nms", type=_nms_threshold, default=0.5, metavar="T",
                   help="suppress a candidate whose IoU with a kept one is > T "
                        "(default 0.5; 'none' disables)")
    p.set_defaults(func=run_score)
