"""A run's per-query evidence, kept next to its result so claims can be judged with intervals.

Grounding runs keep `predictions.npz`: for the selected epoch (A16), every eval query's top-5
moments after NMS in rank order (start, end in seconds as float64, score as float32, and whether
the k-th moment exists), its query id, ground-truth moment and video duration. Everything the
metrics need: `metrics_of` reproduces the run's stored metrics exactly (the same float64 tIoU as
`metrics.evaluate`), and `outcomes` gives the per-query outcome behind each metric (0/1 hits for
R@k at an IoU, the top-1 IoU for mIoU) for `vdi_core.stats`. About 3-4k queries x 5 on the paper
profile: tens of kilobytes compressed.

Other tasks may keep a generic `outcomes.npz` (item ids plus one array per metric, already in the
metric's units: the metric is their mean). The result JSON's `extra["predictions"]` (or
`extra["per_item"]`) records the file name and its sha256, checked on every load.
"""

from __future__ import annotations

import hashlib
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import VdiError
from .io import atomic_write_npz
from .recall import IOUS, KS, summarise

# torch (and the metrics built on it) is imported where a model's scores are turned into
# predictions, not here: rendering tables reads artifacts with numpy alone.

FILE = "predictions.npz"
OUTCOMES_FILE = "outcomes.npz"
TOP_K = 5
PAIRS = "pairs:"  # npz key prefix of the per-pair outcomes (optional: a source with no pair tags)
FORMAT = 1
_RK = re.compile(r"^R@(\d+),IoU=([0-9.]+)$")


@dataclass(frozen=True)
class Predictions:
    qids: np.ndarray  # [Q] str
    starts: np.ndarray  # [Q, K] float64 seconds, rank order after NMS
    ends: np.ndarray  # [Q, K] float64
    scores: np.ndarray  # [Q, K] float32
    exists: np.ndarray  # [Q, K] bool (fewer than K moments survive NMS on a tiny map)
    gt: np.ndarray  # [Q, 2] float64 seconds, clamped as the run used it
    durations: np.ndarray  # [Q] float64 seconds
    nms: float  # the threshold the run used (nan: none)
    # metric -> [P] outcome of every ordered query pair (0, 0.5, 1; grounding/pairs.py): the mini
    # world's verb / noun pairs, whose metric is their mean. Empty where the source tags no query.
    pairs: dict[str, np.ndarray] = field(default_factory=dict)


def top_moments(scores, mask, durations, nms, k: int = TOP_K):
    """(starts, ends, scores, exists) [Q, k] of the moments greedy NMS keeps from 2D score maps
    [Q, N, N]: the same ranking, NMS in clip units and cell geometry as `metrics.evaluate`."""
    import torch

    from .metrics import _greedy_topk, _iou

    q_count, n = scores.shape[0], scores.shape[1]
    ci, cj = mask.nonzero(as_tuple=True)
    flat = scores.detach().reshape(q_count, n * n)[:, ci * n + cj]
    if flat.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    c_start, c_end = ci.to(torch.float64), (cj + 1).to(torch.float64)
    table = _iou(c_start[:, None], c_end[:, None], c_start[None], c_end[None]) > (math.inf if nms is None else nms)
    kept, exists = _greedy_topk(flat, None, k, lambda cand, rows: table[cand])
    d = torch.as_tensor(durations, dtype=torch.float64)
    starts = ci[kept].to(torch.float64) * d[:, None] / n
    ends = (cj[kept] + 1).to(torch.float64) * d[:, None] / n
    return starts.numpy(), ends.numpy(), flat.gather(1, kept).float().numpy(), exists.numpy()


def from_scores(scores, mask, split, nms) -> Predictions:
    """Predictions of a PreparedSplit's queries from their 2D score maps."""
    import torch

    durations = split.durations[split.video_of].to(torch.float64)
    starts, ends, top, exists = top_moments(scores, mask, durations, nms)
    return Predictions(np.asarray(split.qids, dtype=str), starts, ends, top, exists,
                       split.moments.to(torch.float64).numpy(), durations.numpy(),
                       math.nan if nms is None else float(nms))


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_predictions(path: Path, pred: Predictions) -> str:
    """Write atomically; returns the file's sha256."""
    atomic_write_npz(Path(path), {
        "format": np.int64(FORMAT), "qids": pred.qids.astype(str), "starts": pred.starts.astype(np.float64),
        "ends": pred.ends.astype(np.float64), "scores": pred.scores.astype(np.float32),
        "exists": pred.exists.astype(bool), "gt": pred.gt.astype(np.float64),
        "durations": pred.durations.astype(np.float64), "nms": np.float64(pred.nms),
        **{f"{PAIRS}{name}": np.asarray(v, dtype=np.float64) for name, v in pred.pairs.items()}})
    return sha256(path)


def _open_npz(path: Path) -> dict:
    if not path.is_file():
        raise VdiError(f"{path}: no such file; a grounding run writes it to its artifact folder "
                       f"(results/<profile>/artifacts/<key>/{FILE})")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise VdiError(f"{path}: not a readable .npz file ({e}); rerun the row or restore the file") from None


def load_predictions(path) -> Predictions:
    """Read and validate a predictions artifact (one VdiError line on anything malformed)."""
    path = Path(path)
    z = _open_npz(path)
    need = ("format", "qids", "starts", "ends", "scores", "exists", "gt", "durations", "nms")
    missing = [k for k in need if k not in z]
    if missing:
        raise VdiError(f"{path}: not a predictions artifact (missing {', '.join(missing)}); "
                       f"expected the {FILE} a grounding run writes")
    if int(z["format"]) != FORMAT:
        raise VdiError(f"{path}: predictions format {int(z['format'])}, this code reads {FORMAT}; rerun the row")
    q = len(z["qids"])
    shapes = {"starts": (q, TOP_K), "ends": (q, TOP_K), "scores": (q, TOP_K), "exists": (q, TOP_K),
              "gt": (q, 2), "durations": (q,)}
    for name, shape in shapes.items():
        if z[name].shape != shape:
            raise VdiError(f"{path}: '{name}' has shape {z[name].shape}, expected {shape} for {q} queries")
    if q == 0 or len(set(z["qids"].tolist())) != q:
        raise VdiError(f"{path}: query ids must be non-empty and unique")
    for name in ("starts", "ends", "gt", "durations"):
        if not np.isfinite(z[name]).all():
            raise VdiError(f"{path}: '{name}' contains NaN or inf; rerun the row")
    pairs = {k[len(PAIRS):]: v for k, v in z.items() if k.startswith(PAIRS)}
    for name, v in pairs.items():
        if v.ndim != 1 or not v.size or not np.isin(v, (0.0, 0.5, 1.0)).all():
            raise VdiError(f"{path}: '{PAIRS}{name}' must be a non-empty list of pair outcomes 0, 0.5 or 1; "
                           f"rerun the row")
    return Predictions(z["qids"].astype(str), z["starts"], z["ends"], z["scores"], z["exists"].astype(bool),
                       z["gt"], z["durations"], float(z["nms"]), pairs)


def top_tiou(pred: Predictions) -> np.ndarray:
    """[Q, K] float64 tIoU of each kept moment with the ground truth (-1 where none was kept);
    the same IEEE operations as `metrics._iou`, so the same bits."""
    s1, e1, s2, e2 = pred.starts, pred.ends, pred.gt[:, None, 0], pred.gt[:, None, 1]
    inter = np.clip(np.minimum(e1, e2) - np.maximum(s1, s2), 0.0, None)
    union = np.maximum(e1, e2) - np.minimum(s1, s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        top = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.where(pred.exists, top, -1.0)


def metrics_of(pred: Predictions, ks=None, ious=None) -> dict[str, float]:
    """The run's metrics (x100), computed as `metrics.evaluate` computes them."""
    return summarise(top_tiou(pred), pred.exists, ks or KS, ious or IOUS)


def outcomes(pred: Predictions, metric: str) -> np.ndarray | None:
    """Per-query outcome [Q] in raw units (the metric x100 is 100 x their mean), or None for a
    metric the predictions cannot give."""
    t = top_tiou(pred)
    if metric == "mIoU":
        return np.clip(t[:, 0], 0.0, None)
    m = _RK.match(metric)
    if m is None or not 1 <= int(m.group(1)) <= TOP_K:
        return None
    return (t[:, :int(m.group(1))] >= float(m.group(2))).any(axis=1).astype(np.float64)


def as_score_inputs(pred: Predictions) -> tuple[dict, dict]:
    """(pred, gt) in `vdi score`'s JSON form: query id -> [[start, end, score], ...] (the kept
    moments, already after NMS) and query id -> {"moment", "duration"}."""
    p, g = {}, {}
    for i, q in enumerate(pred.qids.tolist()):
        keep = pred.exists[i]
        p[q] = [[float(s), float(e), float(c)] for s, e, c in
                zip(pred.starts[i][keep], pred.ends[i][keep], pred.scores[i][keep])]
        g[q] = {"moment": [float(pred.gt[i, 0]), float(pred.gt[i, 1])], "duration": float(pred.durations[i])}
    return p, g


def keep(pred: Predictions, artifact_dir: Path | None) -> dict:
    """Save a run's predictions into its artifact folder; the entry for the result's `extra`."""
    if artifact_dir is None:  # a context without an artifact folder (unit tests of the task)
        return {}
    digest = save_predictions(Path(artifact_dir) / FILE, pred)
    return {"predictions": {"file": FILE, "sha256": digest, "queries": int(len(pred.qids))}}


# --- generic per-item outcomes (tasks other than grounding, test tasks) ---------------------------


def save_outcomes(path: Path, ids, values: dict[str, np.ndarray]) -> str:
    """ids [n] and metric -> [n] outcomes in the metric's own units (the metric is their mean)."""
    arrays = {"format": np.int64(FORMAT), "ids": np.asarray(ids, dtype=str)}
    arrays.update({f"metric:{m}": np.asarray(v, dtype=np.float64) for m, v in values.items()})
    atomic_write_npz(Path(path), arrays)
    return sha256(path)


# --- reading a run's evidence back (claims, `vdi results`) -----------------------------------------


@dataclass(frozen=True)
class Evidence:
    """One run's per-item outcomes: item ids in eval order, and metric key (as in the result's
    `metrics`, row prefix included) -> raw outcomes; the metric is `scale` x their mean."""

    ids: tuple[str, ...]
    outcomes: dict[str, np.ndarray]
    scale: float
    scales: dict[str, float] = field(default_factory=dict)  # metrics whose scale is not `scale`

    def scale_of(self, key: str) -> float:
        return self.scales.get(key, self.scale)


def run_evidence(record: dict, artifact_dir: Path) -> Evidence | str:
    """The evidence a result recorded in its `extra`, checked against its sha256 and its stored
    metrics; or a short reason why there is none (an old result, a changed file)."""
    extra = record.get("extra") or {}
    entry, generic = extra.get("predictions"), False
    if not entry:
        entry, generic = extra.get("per_item"), True
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or "/" in entry["file"]:
        return "no per-query artifact"
    path = Path(artifact_dir) / entry["file"]
    if not path.is_file():
        return f"artifact {entry['file']} missing"
    digest = sha256(path)
    if digest != entry.get("sha256"):
        return f"artifact {entry['file']} changed since the run (sha256)"
    try:
        ev = _load_evidence(str(path), digest, generic)
    except VdiError as e:
        return f"artifact unreadable: {e}"
    for key, value in (record.get("metrics") or {}).items():
        if key in ev.outcomes and value is not None:
            stored, kept = float(value), ev.scale_of(key) * float(ev.outcomes[key].mean())
            if abs(kept - stored) > 1e-6 * max(1.0, abs(stored)):
                return f"artifact disagrees with the stored {key}"
    return ev


_EVIDENCE: dict[tuple[str, str], Evidence] = {}


def _load_evidence(path: str, digest: str, generic: bool) -> Evidence:
    if (path, digest) not in _EVIDENCE:
        if generic:
            z = _open_npz(Path(path))
            if "ids" not in z:
                raise VdiError(f"{path}: not an outcomes artifact (no 'ids')")
            values = {k[len("metric:"):]: v.astype(np.float64) for k, v in z.items() if k.startswith("metric:")}
            ev = Evidence(tuple(z["ids"].astype(str).tolist()), values, 1.0)
        else:
            pred = load_predictions(path)
            values = {}
            for metric in [f"R@{k},IoU={m:g}" for k in (1, 5) for m in (0.3, 0.5, 0.7)] + ["mIoU"]:
                values[metric] = outcomes(pred, metric)
            # the pair metrics' items are ordered query pairs, not queries; their scale is 0-1
            values.update(pred.pairs)
            ev = Evidence(tuple(pred.qids.tolist()), values, 100.0, {name: 1.0 for name in pred.pairs})
        if len(_EVIDENCE) > 512:
            _EVIDENCE.clear()
        _EVIDENCE[(path, digest)] = ev
    return _EVIDENCE[(path, digest)]


def score_artifact(path, gt: dict, nms, gt_name: str = "gt") -> dict[str, float]:
    """`vdi score --pred predictions.npz`: the artifact's moments against a ground-truth JSON.
    The moments are already after the run's NMS, so none is applied again; asking for another
    threshold than the run's is refused rather than silently ignored."""
    from .metrics import score

    pred = load_predictions(path)
    run_nms = None if math.isnan(pred.nms) else pred.nms
    if nms != run_nms:
        raise VdiError(f"--pred {path}: its moments are the top {TOP_K} after the run's NMS "
                       f"({run_nms}); pass --nms {run_nms if run_nms is not None else 'none'} "
                       f"(another threshold needs the full score maps, which are not kept)")
    moments, _ = as_score_inputs(pred)
    return score(moments, gt, nms=None, pred_name=str(path), gt_name=gt_name)
