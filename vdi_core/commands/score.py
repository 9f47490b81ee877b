"""`vdi score`: evaluate any model's moment predictions against ground truth (vdi_core.metrics.score)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import VdiError
from ..io import DuplicateKey, unique_keys


def read_json(p: Path, what: str):
    """A JSON file as Python objects; every way it can be malformed is one VdiError line."""
    try:
        with p.open(encoding="utf-8") as f:
            return json.load(f, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as e:
        raise VdiError(f"--{what} {p}: not valid JSON at line {e.lineno}, column {e.colno}: "
                       f"{e.msg}") from None
    except UnicodeDecodeError:
        raise VdiError(f"--{what} {p}: not UTF-8 text; save the file as UTF-8 JSON") from None
    except DuplicateKey as e:
        raise VdiError(f"--{what} {p}: key {e.args[0]!r} appears more than once (JSON would keep only the "
                       "last); remove the duplicate so each query id is given once") from None
    except RecursionError:
        raise VdiError(f"--{what} {p}: JSON nested too deeply to be predictions or ground truth; "
                       "check the file") from None
    except OSError as e:
        raise VdiError(f"--{what} {p}: cannot be read ({e.strerror}); check the path") from None


# Input formats by file suffix: reader(path, option name) -> the JSON-shaped object `score` takes.
# A new format (e.g. a stored predictions artefact) is one more entry.
PRED_READERS = {".json": read_json}
GT_READERS = {".json": read_json}


def load_input(path: str, what: str, readers=None):
    p = Path(path)
    if not p.is_file():
        raise VdiError(f"--{what} {path}: no such file; pass the path of a JSON file")
    readers = readers or {".json": read_json}
    reader = readers.get(p.suffix.lower(), read_json)  # JSON whatever the suffix, as before
    return reader(p, what)


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
    gt = load_input(args.gt, "gt", GT_READERS)
    if Path(args.pred).suffix == ".npz":  # a run's predictions artifact (vdi_core/predictions.py)
        from ..predictions import score_artifact

        metrics = score_artifact(args.pred, gt, args.nms, gt_name=args.gt)
    else:
        from ..metrics import score  # imports torch: only when scoring (`vdi status` must start fast)

        pred = load_input(args.pred, "pred", PRED_READERS)
        metrics = score(pred, gt, nms=args.nms, pred_name=args.pred, gt_name=args.gt)
    print(json.dumps(metrics, indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "score",
        help="evaluate moment predictions: R@{1,5} at IoU {0.3,0.5,0.7} and mIoU (x100), as JSON",
        description=(
            "Evaluate moment-retrieval predictions as MMN does: rank each query's candidates by score "
            "(exact ties: earlier start, then earlier end), greedy NMS, then R@n at IoU m (tIoU >= m) and "
            "mean top-1 tIoU, "
            "all x100. Ground-truth moments are clamped to [0, duration]; predictions must lie inside it."),
    )
    p.add_argument("--pred", required=True, metavar="P.json",
                   help='{"query id": [[start, end, score], ...], ...} in seconds within [0, duration], any order; '
                        "or a run's predictions.npz (its top-5 moments after NMS)")
    p.add_argument("--gt", required=True, metavar="G.json",
                   help='{"query id": {"moment": [start, end], "duration": seconds}, ...}')
    p.add_argument("--nms", type=_nms_threshold, default=0.5, metavar="T",
                   help="suppress a candidate whose IoU with a kept one is > T "
                        "(default 0.5; 'none' disables)")
    p.set_defaults(func=run_score)
