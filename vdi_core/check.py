"""`vdi check`: the regression check a CI job runs after regenerating tables.

Fails (non-zero exit, one line per offending cell) when
  (a) a recorded paper-profile result is outside tolerance of the paper,
  (b) a recorded mini result drifted from the committed golden file,
  (c) a claim that held in the golden file is now contradicted (a held claim that became
      undecided is a note, not a failure: see `claim_change`),
  (d) a rendered table is stale with respect to the results it was rendered from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .claims import aggregate, collect_evidence, judge_claim
from .errors import VdiError
from .render import claim_line, render_stamp, tables_dir
from .runner import load_results, plan
from .spec import Spec
from .store import atomic_write_json, device_kind

GOLDEN_TOLERANCE = 0.5  # points (metrics are x100): covers float drift across CPUs, not a real change
_STAMP = re.compile(r"<!-- vdi-render plan=(\w+) results=(\w+) n=(\d+) -->")


@dataclass
class CheckReport:
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def golden_path(tables_root: Path | None = None) -> Path:
    return tables_dir("mini", tables_root) / "golden.json"


def _load_golden(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise VdiError(f"golden file {path} is not valid JSON ({e}); restore it from git "
                       f"or rewrite it with `vdi check --update-golden`") from None


def check(specs: list[Spec], profile: str, tables_root: Path | None = None, results_root: Path | None = None,
          update_golden: bool = False) -> CheckReport:
    rep = CheckReport()
    gpath = golden_path(tables_root)
    golden = _load_golden(gpath) if profile == "mini" else None
    if profile == "mini" and golden is None and not update_golden:
        rep.notes.append(f"no golden file at {gpath}; create it with `vdi check --update-golden`")
    tol = (golden or {}).get("tolerance", GOLDEN_TOLERANCE)
    new_golden = {"profile": "mini", "tolerance": tol, "tables": dict((golden or {}).get("tables", {}))}

    for spec in specs:
        planned = plan(spec, profile)
        results = load_results(planned, results_root)
        cells = aggregate(spec, profile, planned, results)
        evidence = collect_evidence(spec, profile, planned, results, results_root) if profile == "mini" else {}
        _check_stale(spec, profile, planned, results, tables_root, rep)
        if profile == "paper":
            _check_paper(spec, cells, rep)
        elif golden is not None and not update_golden:
            _check_devices(spec, planned, results, rep)
            _check_golden(spec, profile, cells, golden["tables"].get(spec.id), tol, rep, evidence)
        if update_golden and profile == "mini":
            new_golden["tables"][spec.id] = _golden_entry(spec, profile, cells, evidence)
    if update_golden and profile == "mini":
        atomic_write_json(gpath, new_golden)
        rep.notes.append(f"golden file written: {gpath}")
    return rep


def _check_paper(spec: Spec, cells, rep: CheckReport) -> None:
    for row in spec.rows_for("paper"):
        for m in spec.metrics:
            ref, cell = row.ref(m.id), cells.get(row.id, {}).get(m.id)
            if ref is None or cell is None:
                continue
            delta = cell.mean - ref
            if abs(delta) > m.tolerance + 1e-9:
                rep.failures.append(f"{spec.id} | {row.id} | {m.id}: measured {cell.mean:.{m.decimals}f} vs paper "
                                    f"{ref:.{m.decimals}f} (Δ {delta:+.{m.decimals}f}, tolerance ±{m.tolerance:g})")


def _golden_entry(spec: Spec, profile: str, cells, evidence) -> dict:
    rows = {r: {m: {"mean": round(c.mean, 6), "std": round(c.std, 6), "n": c.n} for m, c in ms.items()}
            for r, ms in cells.items()}
    # A claim's verdict: "holds" | "contradicted" | "undecided", or null when its rows are not run.
    claims = {c.id: judge_claim(spec, c, cells, profile, evidence).verdict for c in spec.claims}
    return {"rows": rows, "claims": claims}


def claim_change(was, now: str | None) -> str | None:
    """"fail", "note" or None for a claim whose golden verdict was `was` and is now `now`.
    Golden files before verdicts stored booleans: true reads as "holds", false as not holding."""
    if was is True:
        was = "holds"
    if was != "holds":
        return None  # only a claim that held is guarded
    if now == "contradicted":
        return "fail"
    return "note" if now in ("undecided", None) else None


def _check_golden(spec: Spec, profile: str, cells, entry: dict | None, tol: float, rep: CheckReport,
                  evidence=None) -> None:
    if entry is None:
        rep.notes.append(f"{spec.id}: not in the golden file (add it with `vdi check --update-golden`)")
        return
    for row_id, metrics in entry["rows"].items():
        for m_id, g in metrics.items():
            cell = cells.get(row_id, {}).get(m_id)
            if cell is None:
                rep.notes.append(f"{spec.id} | {row_id} | {m_id}: no local result to compare with golden")
                continue
            if cell.n != g["n"]:
                rep.notes.append(f"{spec.id} | {row_id} | {m_id}: {cell.n} seed(s) here vs {g['n']} in golden; "
                                 f"not compared (run with --seeds {g['n']})")
                continue
            # A metric on a 0-1 scale (Table 1, Figure 1) gets its own, tighter spec tolerance.
            m_tol = min(tol, spec.metric(m_id).tolerance)
            if abs(cell.mean - g["mean"]) > m_tol:
                d = spec.metric(m_id).decimals
                rep.failures.append(f"{spec.id} | {row_id} | {m_id}: {cell.mean:.{d}f} now vs golden {g['mean']:.{d}f} "
                                    f"(Δ {cell.mean - g['mean']:+.{d}f}, tolerance ±{m_tol:g})")
    for claim in spec.claims:
        res = judge_claim(spec, claim, cells, profile, evidence)
        change = claim_change(entry["claims"].get(claim.id), res.verdict)
        line = claim_line(spec, claim, res).split(" ", 2)[2]  # without the bullet and mark
        if change == "fail":
            rep.failures.append(f"{spec.id} | claim '{claim.id}' held in golden but is contradicted now: {line}")
        elif change == "note" and res.verdict is None:
            rep.notes.append(f"{spec.id} | claim '{claim.id}': undecided (rows not run)")
        elif change == "note":
            rep.notes.append(f"{spec.id} | claim '{claim.id}' held in golden, undecided now: {line}")


def _check_devices(spec: Spec, planned, results, rep: CheckReport) -> None:
    """The golden file holds CPU numbers; a mini result computed on a GPU (bf16) is not comparable."""
    for p in planned:
        rec = results.get(p.key)
        if rec is not None and device_kind(rec["provenance"]["device"]) != "cpu":
            rep.failures.append(f"{spec.id} | {p.row} seed {p.seed}: computed on {rec['provenance']['device']}, but "
                                f"the golden file holds CPU numbers; run `vdi run {spec.id} --device cpu`")


def _check_stale(spec: Spec, profile: str, planned, results, tables_root, rep: CheckReport) -> None:
    path = tables_dir(profile, tables_root) / f"{spec.id}.md"
    if not path.is_file():
        if results:
            rep.failures.append(f"{spec.id}: {path} missing although results exist; run `vdi render {spec.id}`")
        return
    m = _STAMP.search(path.read_text(encoding="utf-8"))
    if m is None:
        rep.failures.append(f"{spec.id}: {path} has no render stamp; re-render with `vdi render {spec.id}`")
        return
    now = _STAMP.search(render_stamp(planned, results))
    plan_digest, res_digest, n = m.group(1), m.group(2), int(m.group(3))
    if plan_digest != now.group(1):
        rep.failures.append(f"{spec.id}: {path} is stale: the spec, config or code version changed since it was "
                            f"rendered; run `vdi run {spec.id} --profile {profile}`")
    elif len(results) < n:
        rep.notes.append(f"{spec.id}: rendered from {n} results, {len(results)} present here; staleness not checked")
    elif res_digest != now.group(2):
        rep.failures.append(f"{spec.id}: {path} is stale: results changed since it was rendered; "
                            f"run `vdi render {spec.id} --profile {profile}`")
