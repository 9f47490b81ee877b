"""Aggregation over seeds and the table's claims (orderings such as "Q^d.Inj > Q.Inj").

A claim is judged by `judge_claim` from paired confidence intervals (vdi_core/stats.py) of its
comparisons, on the runs' per-query outcomes (vdi_core/predictions.py): "holds" when every
comparison's interval lies above 0, "contradicted" when any lies below, else "undecided". Rows
whose results have no per-query artifact (older results, tasks that keep none) are compared on
seed means as before, marked "no interval": never a guessed interval. A claim with any cell not
yet run has no verdict (None), shown as "—". `evaluate_claim` is the means-only comparison
(also used on the paper's own numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import stats
from .predictions import Evidence, run_evidence
from .spec import Claim, Spec


@dataclass(frozen=True)
class Cell:
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (ddof=1); 0 for a single seed."""
        if len(self.values) < 2:
            return 0.0
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (len(self.values) - 1))


def aggregate(spec: Spec, profile: str, planned, results: dict[str, dict]) -> dict[str, dict[str, Cell]]:
    """row id -> metric id -> Cell over the seeds that have results (rows with none are absent)."""
    by_row: dict[str, list[dict]] = {}
    for p in planned:
        if p.table == spec.id and p.key in results:
            by_row.setdefault(p.row, []).append(results[p.key])
    cells: dict[str, dict[str, Cell]] = {}
    for row in spec.rows_for(profile):
        recs = by_row.get(row.id, [])
        for m in spec.metrics:
            vals = [r["metrics"][row.metric_prefix + m.id] for r in recs
                    if row.metric_prefix + m.id in r["metrics"]]
            vals = [float(v) for v in vals if v is not None and math.isfinite(float(v))]
            if vals:
                cells.setdefault(row.id, {})[m.id] = Cell(tuple(vals))
    return cells


def claim_rows(spec: Spec, claim: Claim, profile: str) -> tuple[str, ...]:
    if claim.among:
        return tuple(r for r in claim.among if profile in spec.row(r).profiles)
    return tuple(r.id for r in spec.rows_for(profile) if r.role == "row")


def evaluate_claim(spec: Spec, claim: Claim, cells: dict[str, dict[str, Cell]], profile: str,
                   use_reference: bool = False) -> tuple[bool | None, str]:
    """(held?, short evidence). use_reference judges the paper's own numbers (a sanity check of
    the transcription: every claim we state must hold on the paper's values)."""

    def value(row_id: str, metric: str) -> float | None:
        if use_reference:
            return spec.row(row_id).ref(metric)
        c = cells.get(row_id, {}).get(metric)
        return None if c is None else c.mean

    evidence, verdicts = [], []
    if claim.kind == "greater":
        for m in claim.metrics:
            a, b = value(claim.a, m), value(claim.b, m)
            if a is None or b is None:
                return None, f"{claim.a} or {claim.b} not run"
            held = a > b + claim.margin
            verdicts.append(held)
            plus = f" + {claim.margin:g}" if claim.margin else ""
            evidence.append(f"{m}: {a:.2f} {'>' if held else '≤'} {b:.2f}{plus}")
    elif claim.kind == "at_least":
        for m in claim.metrics:
            v = value(claim.row, m)
            if v is None:
                return None, f"{claim.row} not run"
            d = spec.metric(m).decimals
            verdicts.append(v >= claim.value)
            evidence.append(f"{m}: {v:.{d}f} {'≥' if v >= claim.value else '<'} {claim.value:g}")
    elif claim.kind in ("max", "min"):
        others = [r for r in claim_rows(spec, claim, profile) if r != claim.row]
        for m in claim.metrics:
            mine = value(claim.row, m)
            rest = [value(r, m) for r in others]
            if mine is None or any(v is None for v in rest):
                return None, "not all rows run"
            if claim.kind == "max":
                best = max(rest)
                verdicts.append(mine > best)
                evidence.append(f"{m}: {mine:.2f} vs next {best:.2f}")
            else:
                best = min(rest)
                verdicts.append(mine < best)
                evidence.append(f"{m}: {mine:.2f} vs next {best:.2f}")
    elif claim.kind == "metric_greater":
        m1, m2 = claim.metrics
        for r in [r for r in claim.rows if profile in spec.row(r).profiles]:
            a, b = value(r, m1), value(r, m2)
            if a is None or b is None:
                return None, f"{r} not run"
            verdicts.append(a > b)
            evidence.append(f"{r}: {a:.3f} {'>' if a > b else '≤'} {b:.3f}")
    return all(verdicts), "; ".join(evidence)


# --- claims with intervals -----------------------------------------------------------------------


@dataclass(frozen=True)
class RowEvidence:
    """A row's per-item outcomes over its seeds: ids in eval order, seed -> Evidence."""

    ids: tuple[str, ...]
    by_seed: dict[int, Evidence]
    prefix: str

    def outcomes(self, metric: str, seeds: list[int]) -> tuple[np.ndarray, float] | None:
        """[len(seeds), items] raw outcomes of one metric and its scale, or None if not kept."""
        key = self.prefix + metric
        if any(key not in self.by_seed[s].outcomes for s in seeds):
            return None
        return np.stack([self.by_seed[s].outcomes[key] for s in seeds]), self.by_seed[seeds[0]].scale_of(key)


def collect_evidence(spec: Spec, profile: str, planned, results: dict[str, dict],
                     root: Path | None = None) -> dict[str, RowEvidence | str]:
    """row id -> its evidence, or the reason it has none (shown as "no interval")."""
    from .paths import results_root
    from .store import RunStore

    store = RunStore(root or results_root(), profile)
    by_row: dict[str, dict[int, Evidence | str]] = {}
    for p in planned:
        if p.table == spec.id and p.key in results:
            by_row.setdefault(p.row, {})[p.seed] = run_evidence(results[p.key], store.artifact_dir(p.key))
    out: dict[str, RowEvidence | str] = {}
    for row in spec.rows_for(profile):
        seeds = by_row.get(row.id)
        if not seeds:
            continue
        reasons = sorted({e for e in seeds.values() if isinstance(e, str)})
        if reasons:
            out[row.id] = reasons[0]
            continue
        ids = {e.ids for e in seeds.values()}
        out[row.id] = (RowEvidence(next(iter(ids)), dict(seeds), row.metric_prefix) if len(ids) == 1
                       else "seeds evaluated on different queries")
    return out


@dataclass(frozen=True)
class Comparison:
    """One ordering a claim makes, in the claimed direction: `a` should exceed `b`."""

    metric: str
    label: str  # what the renderer names it: "mIoU", "mIoU vs rel_rel", "toy_queries"
    mean_a: float
    mean_b: float
    verdict: str  # holds | contradicted | undecided
    diff: float | None = None  # with an interval: the paired difference and its 95 % bounds
    lo: float | None = None
    hi: float | None = None
    seeds_needed: int | None = None  # for an undecided comparison (stats.seeds_needed)
    seeds: int = 0  # seeds paired
    no_interval: str = ""  # why there is none (then the verdict is the means' ordering)
    margin: float = 0.0  # `greater` with a margin: a must exceed b by more than this
    threshold: bool = False  # `at_least`: b is a fixed value (mean_b), not a row


@dataclass(frozen=True)
class ClaimResult:
    verdict: str | None  # holds | contradicted | undecided; None: rows not run
    comparisons: tuple[Comparison, ...]
    missing: str = ""  # what is not run yet

    @property
    def interval(self) -> bool:
        return bool(self.comparisons) and not any(c.no_interval for c in self.comparisons)


def _pairs(spec: Spec, claim: Claim, profile: str) -> list[tuple[str, str, str, str, str]]:
    """(metric a, row a, metric b, row b, label) per comparison, in the claimed direction."""
    if claim.kind == "greater":
        return [(m, claim.a, m, claim.b, m) for m in claim.metrics]
    if claim.kind in ("max", "min"):
        others = [r for r in claim_rows(spec, claim, profile) if r != claim.row]
        out = []
        for m in claim.metrics:
            for r in others:
                pair = (m, claim.row, m, r) if claim.kind == "max" else (m, r, m, claim.row)
                out.append((*pair, f"{m} vs {r}"))
        return out
    if claim.kind == "at_least":  # a threshold, not a second row
        return [(m, claim.row, m, None, m) for m in claim.metrics]
    m1, m2 = claim.metrics
    return [(m1, r, m2, r, r) for r in claim.rows if profile in spec.row(r).profiles]


def judge_claim(spec: Spec, claim: Claim, cells: dict[str, dict[str, Cell]], profile: str,
                evidence: dict[str, RowEvidence | str] | None = None, n_boot: int = 10_000) -> ClaimResult:
    """The claim's verdict from paired intervals of each comparison (see the module docstring)."""
    evidence = evidence or {}
    comparisons = []
    for ma, ra, mb, rb, label in _pairs(spec, claim, profile):
        if rb is None:
            ca = cells.get(ra, {}).get(ma)
            if ca is None:
                return ClaimResult(None, (), f"{ra} not run")
            comparisons.append(_at_least(ma, ra, label, ca.mean, claim.value, evidence, n_boot))
            continue
        ca, cb = cells.get(ra, {}).get(ma), cells.get(rb, {}).get(mb)
        if ca is None or cb is None:
            return ClaimResult(None, (), ", ".join(sorted({r for r, c in ((ra, ca), (rb, cb)) if c is None}))
                               + " not run")
        comparisons.append(_compare(ma, ra, mb, rb, label, ca.mean, cb.mean, evidence, n_boot, claim.margin))
    verdicts = [c.verdict for c in comparisons]
    if stats.CONTRADICTED in verdicts:
        verdict = stats.CONTRADICTED
    elif verdicts and all(v == stats.HOLDS for v in verdicts):
        verdict = stats.HOLDS
    else:
        verdict = stats.UNDECIDED
    return ClaimResult(verdict, tuple(comparisons))


def _at_least(metric, row, label, mean, value, evidence, n_boot) -> Comparison:
    """A threshold (a premise rung): the row's interval over items and seeds against a fixed value."""
    means = dict(metric=metric, label=label, mean_a=mean, mean_b=value, threshold=True)
    by_means = stats.HOLDS if mean >= value else stats.CONTRADICTED
    ev = evidence.get(row, "not run")
    if isinstance(ev, str):
        return Comparison(**means, verdict=by_means, no_interval=ev)
    ci = row_interval(evidence, row, metric, n_boot)
    if ci is None:
        return Comparison(**means, verdict=by_means, no_interval=f"{metric} not kept per query")
    m, lo, hi = ci
    return Comparison(**means, verdict=stats.verdict(lo - value, hi - value), diff=m - value, lo=lo - value,
                      hi=hi - value, seeds=len(ev.by_seed))


def _compare(ma, ra, mb, rb, label, mean_a, mean_b, evidence, n_boot, margin: float = 0.0) -> Comparison:
    means = dict(metric=ma, label=label, mean_a=mean_a, mean_b=mean_b, margin=margin)
    by_means = stats.HOLDS if mean_a > mean_b + margin else stats.CONTRADICTED  # the old, means-only rule
    ea, eb = evidence.get(ra, "not run"), evidence.get(rb, "not run")
    reason = ea if isinstance(ea, str) else eb if isinstance(eb, str) else ""
    if not reason and ea.ids != eb.ids:  # pairing needs the very same eval items, in order
        reason = "rows evaluated on different queries"
    seeds = sorted(set(ea.by_seed) & set(eb.by_seed)) if not reason else []
    if not reason and not seeds:
        reason = "no seed in common"
    oa = ob = None
    if not reason:
        oa, ob = ea.outcomes(ma, seeds), eb.outcomes(mb, seeds)
        if oa is None or ob is None:
            reason = f"{ma if oa is None else mb} not kept per query"
        elif oa[0].shape != ob[0].shape:  # pair metrics: items are query pairs, the same set on one split
            reason = f"{ma} and {mb} kept over different items"
    if reason:
        return Comparison(**means, verdict=by_means, no_interval=reason)
    (a, scale), (b, _) = oa, ob
    diff, lo, hi = stats.paired_diff_ci(a, b, n_boot=n_boot, scale=scale)
    verdict = stats.verdict(lo - margin, hi - margin)  # a claimed margin shifts what "holds" means
    needed = stats.seeds_needed(a, b, margin=margin / scale) if verdict == stats.UNDECIDED else None
    return Comparison(**means, verdict=verdict, diff=diff, lo=lo, hi=hi, seeds_needed=needed, seeds=len(seeds))


def row_interval(evidence: dict[str, RowEvidence | str], row_id: str, metric: str,
                 n_boot: int = 10_000) -> tuple[float, float, float] | None:
    """(mean, lo, hi) of one cell over its items and seeds, or None without evidence."""
    ev = evidence.get(row_id)
    if not isinstance(ev, RowEvidence):
        return None
    got = ev.outcomes(metric, sorted(ev.by_seed))
    if got is None:
        return None
    return stats.mean_ci(got[0], n_boot=n_boot, scale=got[1])
