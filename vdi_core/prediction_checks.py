"""Validation of JSON-shaped predictions and ground truth for `metrics.score` (`vdi score`).

Every way a user's file can be wrong is one VdiError naming the query (and candidate): not a
number, NaN/inf, a bool, an inverted or out-of-video candidate. Predictions are checked with a few
whole-array operations (`pred_arrays`); the per-candidate path runs only to name the first bad
one, so validating 660k numbers costs little next to scoring them.
"""

from __future__ import annotations

import array
import itertools
import math

import numpy as np

from .errors import VdiError

# A predicted end past the duration by float rounding (e.g. (j + 1) * D / N) is harmless.
_END_SLACK = 1e-6
_CANDIDATE_TYPES = {list, tuple}


def _is_number(x) -> bool:
    try:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    except OverflowError:  # a JSON integer beyond float range
        return False


def gt_entry(qid, entry, where):
    """(clamped moment [s, e], duration, whether clamping changed it) of one ground-truth entry."""
    here = f"{where}[{qid!r}]"
    if not isinstance(entry, dict) or "moment" not in entry or "duration" not in entry:
        raise VdiError(f'{here}: expected {{"moment": [start, end], "duration": seconds}}, '
                       f"got {entry!r:.80}")
    moment, duration = entry["moment"], entry["duration"]
    if not (isinstance(moment, (list, tuple)) and len(moment) == 2 and all(map(_is_number, moment))):
        raise VdiError(f"{here}['moment']: expected two finite numbers [start, end] in seconds, "
                       f"got {moment!r:.80}")
    if not _is_number(duration) or duration <= 0:
        raise VdiError(f"{here}['duration']: expected a finite number of seconds > 0, got {duration!r}")
    s, e = float(moment[0]), float(moment[1])
    if e <= s:
        raise VdiError(f"{here}['moment']: end {e} <= start {s}; "
                       "drop such moments (MMN does) or fix their order")
    # Clamp as MMN's loader does: many Charades-STA ends exceed the video's length.
    cs, ce = max(s, 0.0), min(e, float(duration))
    if ce <= cs:
        raise VdiError(f"{here}['moment']: [{s}, {e}] lies outside the video [0, {duration}]; "
                       "check the duration source (Charades_v1 `length`) or drop the query")
    return (cs, ce), float(duration), (cs, ce) != (s, e)


def _pred_entry(qid, cands, where, duration) -> None:
    """Raise the precise VdiError for one query's candidates (the slow path, run only once the
    vectorised check in `_pred_arrays` has found something wrong)."""
    here = f"{where}[{qid!r}]"
    if not isinstance(cands, (list, tuple)):
        raise VdiError(f"{here}: expected a list of [start, end, score], got {cands!r:.80}")
    for i, c in enumerate(cands):
        if not (isinstance(c, (list, tuple)) and len(c) == 3 and all(map(_is_number, c))):
            hint = "; a NaN/inf score means the model diverged" if isinstance(c, (list, tuple)) else ""
            raise VdiError(f"{here}[{i}]: expected three finite numbers [start, end, score], "
                           f"got {c!r:.80}{hint}")
        start, end = float(c[0]), float(c[1])
        if end < start:
            raise VdiError(f"{here}[{i}]: end {end} < start {start}; predictions are [start, end, score]")
        if start < 0 or end > duration * (1 + _END_SLACK):
            raise VdiError(f"{here}[{i}]: [{start}, {end}] is not inside the video [0, {duration:g}] s; "
                           "predictions must lie in the video (clamp them to [0, duration] in the model's "
                           "output, as MMN's grid does by construction)")


def pred_arrays(pred, qids, durations, where):
    """(flat float64 [M, 3] candidates, lengths [Q]) of every query's predictions, validated with a
    few whole-array checks instead of one Python check per number (660k numbers for 200 ActivityNet
    queries); on any failure the per-candidate path names the first bad query and candidate."""
    lists = [pred[q] for q in qids]
    flat = None
    if set(map(type, lists)) <= _CANDIDATE_TYPES:
        try:
            lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
            rows = list(itertools.chain.from_iterable(lists))
            if set(map(len, rows)) <= {3}:
                # float() of each value in C: str, None and lists raise TypeError, an int beyond
                # float range OverflowError, a row that is a str of 3 characters TypeError.
                flat = np.frombuffer(array.array("d", itertools.chain.from_iterable(rows)),
                                     dtype=np.float64).reshape(-1, 3)
        except (TypeError, OverflowError):
            flat = None
    if flat is not None:
        # bool is an int subclass and converts to 0.0/1.0: look at the types of those values only.
        for i in np.flatnonzero((flat == 0.0) | (flat == 1.0)).tolist():
            if isinstance(rows[i // 3][i % 3], (bool, np.bool_)):
                flat = None
                break
    if flat is not None:
        d = np.repeat(np.asarray(durations, dtype=np.float64), lengths)
        if not (np.isfinite(flat).all() and (flat[:, 1] >= flat[:, 0]).all()
                and (flat[:, 0] >= 0).all() and (flat[:, 1] <= d * (1 + _END_SLACK)).all()):
            flat = None
    if flat is not None:
        return flat, lengths
    for q, cands, duration in zip(qids, lists, durations, strict=True):
        _pred_entry(q, cands, where, duration)
    raise AssertionError("the vectorised prediction check and the per-candidate one disagree")
