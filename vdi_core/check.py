"""`vdi check`: the regression check a CI job runs after regenerating tables.

Fails (non-zero exit, one line per offending cell) when
  (a) a recorded paper-profile result is outside tolerance of the paper,
  (b) a recorded mini result drifted from the committed golden file,
  (c) a claim that held in the golden file is now contradicted (a held claim that became
      undecided is a note, not a failure: see `claim_change`),
  (d) a rendered table is stale with respect to the results it was rendered from,
  (e) it could not compare: no results at all (an empty or wrong VDI_RESULTS), zero compared
      cells, no golden file (mini), a golden file of the wrong shape, or (mini) a golden cell with
      no comparable local result. A check that compared nothing never says OK (except where every
      table's results came from another kind of CPU than the golden file's: see "CPU kinds").
Staleness rule: a table must be rendered from exactly the results present here. Fewer results here
than the table was rendered from is a failure too (the check cannot vouch for cells whose results
it does not see), as is a different set (the results digest moved).
`--update-golden` refuses (VdiError, nothing written) unless every planned run of every table has
a result computed on the CPU: a partial update would shrink the golden file, a GPU one would put
bf16 numbers into a file of CPU numbers.
CPU kinds: the golden file is stamped with the kind of CPU its results came from (`store.cpu_kind`).
Results from another kind are not compared cell by cell (other kernels, other low bits, other
micro-CLIPs: the cells would drift without a real change); a note says so, and their claims are
still checked against the golden verdicts.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .claims import aggregate, collect_evidence, judge_claim
from .errors import VdiError
from .io import atomic_write_json
from .paths import results_root as default_results_root
from .render import claim_line, render_stamp, tables_dir
from .runner import load_results, plan
from .spec import Spec
from .store import cpu_kind, device_kind

GOLDEN_TOLERANCE = 0.5  # points (metrics are x100): covers float drift across CPUs, not a real change
_STAMP = re.compile(r"<!-- vdi-render plan=(\w+) results=(\w+) n=(\d+) -->")


@dataclass
class CheckReport:
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    compared: int = 0  # cells compared with the paper or the golden file
    other_cpu: int = 0  # tables whose results came from another kind of CPU than the golden file's

    @property
    def ok(self) -> bool:
        return not self.failures


def golden_path(tables_root: Path | None = None) -> Path:
    return tables_dir("mini", tables_root) / "golden.json"


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_golden(g, path: Path) -> dict:
    """The golden file's schema; anything else is one line naming the first offending key."""
    fix = "restore it from git or rewrite it with `vdi check --update-golden`"

    def bad(where: str, what: str):
        raise VdiError(f"golden file {path}: {where} {what}; {fix}")

    if not isinstance(g, dict):
        bad("top level", f"is a JSON {type(g).__name__}, not an object")
    if g.get("profile") != "mini":
        bad("'profile'", f"is {g.get('profile')!r}, not 'mini'")
    if not _num(g.get("tolerance")) or g["tolerance"] < 0:
        bad("'tolerance'", f"is {g.get('tolerance')!r}, not a number >= 0")
    if not isinstance(g.get("tables"), dict):
        bad("'tables'", "is missing or not an object")
    if not isinstance(g.get("cpu_kind", ""), str):
        bad("'cpu_kind'", f"is {g.get('cpu_kind')!r}, not a string")
    for t, entry in g["tables"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("rows"), dict) \
                or not isinstance(entry.get("claims"), dict):
            bad(f"tables.{t}", "needs objects 'rows' and 'claims'")
        for r, metrics in entry["rows"].items():
            if not isinstance(metrics, dict):
                bad(f"tables.{t}.rows.{r}", "is not an object")
            for m, c in metrics.items():
                if not (isinstance(c, dict) and _num(c.get("mean")) and _num(c.get("std"))
                        and isinstance(c.get("n"), int) and not isinstance(c.get("n"), bool) and c["n"] >= 1):
                    bad(f"tables.{t}.rows.{r}.{m}", "needs 'mean', 'std' (numbers) and 'n' (an int >= 1)")
        for c, held in entry["claims"].items():
            if held not in (True, False, None, "holds", "contradicted", "undecided"):
                bad(f"tables.{t}.claims.{c}", f"is {held!r}, not 'holds', 'contradicted', 'undecided' or null")
    return g


def _load_golden(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        g = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise VdiError(f"golden file {path} is not valid JSON ({e}); restore it from git "
                       f"or rewrite it with `vdi check --update-golden`") from None
    return validate_golden(g, path)


def check(specs: list[Spec], profile: str, tables_root: Path | None = None, results_root: Path | None = None,
          update_golden: bool = False, devices: dict[str, str] | None = None) -> CheckReport:
    """`devices`: spec id -> the device kind whose results to read (default: cpu)."""
    rep = CheckReport()
    gpath = golden_path(tables_root)
    golden = _load_golden(gpath) if profile == "mini" else None
    if update_golden and profile != "mini":
        raise VdiError("--update-golden applies to the mini profile only (the paper profile checks against the paper)")
    loaded = []
    for spec in specs:
        planned = plan(spec, profile, device=(devices or {}).get(spec.id, "cpu"))
        loaded.append((spec, planned, load_results(planned, results_root)))
    if not any(results for _, _, results in loaded):
        root = results_root or default_results_root()
        rep.failures.append(f"no {profile} results for {', '.join(s.id for s in specs)} under {root}; run "
                            f"`vdi run` first, or point VDI_RESULTS at the store the tables were rendered from")
        return rep
    if update_golden:
        _update_golden(loaded, golden, gpath, rep, results_root)
        return rep
    no_golden = profile == "mini" and golden is None
    if no_golden:
        rep.failures.append(f"no golden file at {gpath}; restore it from git or create it with "
                            f"`vdi check --update-golden`")
    for spec, planned, results in loaded:
        cells = aggregate(spec, profile, planned, results)
        evidence = collect_evidence(spec, profile, planned, results, results_root) if profile == "mini" else {}
        _check_stale(spec, profile, planned, results, tables_root, rep)
        if profile == "paper":
            _check_paper(spec, cells, rep)
        elif not no_golden:
            _check_devices(spec, planned, results, rep)
            other = _other_cpu_kinds(results, golden.get("cpu_kind"))
            if other:
                rep.other_cpu += 1
                rep.notes.append(f"{spec.id}: results computed on {other[0]!r}, the golden file on "
                                 f"{golden['cpu_kind']!r}: cells are not compared across kinds of CPU (their low "
                                 f"bits differ), claims are; to compare cells here, write a golden file from this "
                                 f"kind with `vdi check --update-golden`")
            else:
                _check_golden(spec, cells, golden["tables"].get(spec.id), golden["tolerance"], rep)
            if spec.id in golden["tables"]:
                _check_claims(spec, profile, cells, golden["tables"][spec.id]["claims"], rep, evidence)
    if rep.compared == 0 and not no_golden and not rep.other_cpu:
        rep.failures.append(f"compared 0 cells ({profile}): no stored result matches a "
                            f"{'paper reference' if profile == 'paper' else 'golden cell'}; run the tables first")
    return rep


def _update_golden(loaded, golden: dict | None, gpath: Path, rep: CheckReport,
                   results_root: Path | None = None) -> None:
    """Rewrite the golden entries of these tables, or refuse with one line (nothing written)."""
    tables = dict((golden or {}).get("tables", {}))
    for spec, planned, results in loaded:
        missing = [p for p in planned if p.key not in results]
        if missing:
            seeds = max(p.seed for p in planned) + 1
            raise VdiError(f"refusing to update the golden file: {spec.id} has {len(planned) - len(missing)} of "
                           f"{len(planned)} planned results (missing e.g. {missing[0].row} seed {missing[0].seed}); "
                           f"run `vdi run {spec.id} --seeds {seeds}` first (a partial update would shrink it)")
        gpu = [p for p in planned if device_kind(results[p.key]["provenance"]["device"]) != "cpu"]
        if gpu:
            raise VdiError(f"refusing to update the golden file: {spec.id} | {gpu[0].row} seed {gpu[0].seed} was "
                           f"computed on {results[gpu[0].key]['provenance']['device']}; the golden file holds CPU "
                           f"numbers, run `vdi run {spec.id} --device cpu`")
        evidence = collect_evidence(spec, "mini", planned, results, results_root)
        tables[spec.id] = _golden_entry(spec, "mini", aggregate(spec, "mini", planned, results), evidence)
        rep.compared += sum(len(ms) for ms in tables[spec.id]["rows"].values())
    kinds = sorted({r["provenance"]["cpu_kind"] for _, _, results in loaded for r in results.values()
                    if "cpu_kind" in r["provenance"]})
    if len(kinds) > 1:
        raise VdiError(f"refusing to update the golden file: its results come from {len(kinds)} kinds of CPU "
                       f"({'; '.join(kinds)}); re-run them on one with `vdi run ... --force`")
    kind = kinds[0] if kinds else cpu_kind()  # results stored before kinds were recorded: this machine's
    kept = set(tables) - {spec.id for spec, _, _ in loaded}  # golden entries this update leaves as they are
    if golden and golden.get("cpu_kind") not in (None, kind) and kept:
        raise VdiError(f"refusing to update part of the golden file: it holds {golden['cpu_kind']!r} numbers, these "
                       f"results come from {kind!r}; update every table at once (`vdi check --update-golden`)")
    tol = (golden or {}).get("tolerance", GOLDEN_TOLERANCE)
    atomic_write_json(gpath, {"profile": "mini", "tolerance": tol, "cpu_kind": kind, "tables": tables})
    rep.notes.append(f"golden file written: {gpath} (CPU: {kind})")


def _check_paper(spec: Spec, cells, rep: CheckReport) -> None:
    for row in spec.rows_for("paper"):
        for m in spec.metrics:
            ref, cell = row.ref(m.id), cells.get(row.id, {}).get(m.id)
            if ref is None or cell is None:
                continue
            rep.compared += 1
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


def _check_golden(spec: Spec, cells, entry: dict | None, tol: float, rep: CheckReport) -> None:
    if entry is None:
        rep.failures.append(f"{spec.id}: not in the golden file, nothing to compare; add it with "
                            f"`vdi check {spec.id} --update-golden`")
        return
    uncompared = []
    for row_id, metrics in entry["rows"].items():
        for m_id, g in metrics.items():
            cell = cells.get(row_id, {}).get(m_id)
            if cell is None or cell.n != g["n"]:
                uncompared.append((row_id, m_id, g["n"], cell.n if cell else 0))
                continue
            rep.compared += 1
            # A metric on a 0-1 scale (Table 1, Figure 1) gets its own, tighter spec tolerance.
            m_tol = min(tol, spec.metric(m_id).tolerance) if any(m.id == m_id for m in spec.metrics) else tol
            if abs(cell.mean - g["mean"]) > m_tol:
                d = spec.metric(m_id).decimals if any(m.id == m_id for m in spec.metrics) else 2
                rep.failures.append(f"{spec.id} | {row_id} | {m_id}: {cell.mean:.{d}f} now vs golden {g['mean']:.{d}f} "
                                    f"(Δ {cell.mean - g['mean']:+.{d}f}, tolerance ±{m_tol:g})")
    if uncompared:  # the mini grid is cheap: a check that skips golden cells cannot vouch for them
        row_id, m_id, want, have = uncompared[0]
        rep.failures.append(f"{spec.id}: {len(uncompared)} golden cell(s) have no comparable local result (e.g. "
                            f"{row_id} | {m_id}: {have} seed(s) here, {want} in golden); run "
                            f"`vdi run {spec.id} --seeds {want}`")


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


def _check_claims(spec: Spec, profile: str, cells, golden_claims: dict, rep: CheckReport, evidence) -> None:
    """How a claim's verdict now compares with the golden file's (kept apart: its rules may change)."""
    for claim in spec.claims:
        res = judge_claim(spec, claim, cells, profile, evidence)
        change = claim_change(golden_claims.get(claim.id), res.verdict)
        line = claim_line(spec, claim, res).split(" ", 2)[2]  # without the bullet and mark
        if change == "fail":
            rep.failures.append(f"{spec.id} | claim '{claim.id}' held in golden but is contradicted now: {line}")
        elif change == "note" and res.verdict is None:
            rep.notes.append(f"{spec.id} | claim '{claim.id}': undecided (rows not run)")
        elif change == "note":
            rep.notes.append(f"{spec.id} | claim '{claim.id}' held in golden, undecided now: {line}")


def _other_cpu_kinds(results: dict, golden_kind: str | None) -> list[str]:
    """The CPU kinds of these results that are not the golden file's (results that carry none, from
    before kinds were recorded, are taken as the golden file's kind)."""
    if golden_kind is None:
        return []
    return sorted({r["provenance"]["cpu_kind"] for r in results.values()
                   if r["provenance"].get("cpu_kind", golden_kind) != golden_kind})


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
    m = _STAMP.search(path.read_text(encoding="utf-8", errors="replace"))
    if m is None:
        rep.failures.append(f"{spec.id}: {path} has no render stamp; re-render with `vdi render {spec.id}`")
        return
    now = _STAMP.search(render_stamp(planned, results))
    plan_digest, res_digest, n = m.group(1), m.group(2), int(m.group(3))
    if plan_digest != now.group(1):
        rep.failures.append(f"{spec.id}: {path} is stale: the spec, config, device kind or code version changed "
                            f"since it was rendered; run `vdi run {spec.id} --profile {profile}`")
    elif len(results) < n:
        rep.failures.append(f"{spec.id}: {path} was rendered from {n} results, only {len(results)} present here; "
                            f"point VDI_RESULTS at the store it was rendered from, or run `vdi run {spec.id} "
                            f"--profile {profile}`")
    elif res_digest != now.group(2):
        rep.failures.append(f"{spec.id}: {path} is stale: results changed since it was rendered; "
                            f"run `vdi render {spec.id} --profile {profile}`")
