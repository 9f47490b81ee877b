"""Aggregation over seeds and the table's claims (orderings such as "Q^d.Inj > Q.Inj").

Claims are judged on seed means. A claim with any cell not yet run is undecided (None), never
guessed: the renderer shows it as "—".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
