"""`vdi results TABLE [--profile] [--json | --csv]`: a rendered table in machine-readable form,
for dashboards, CI and papers.

Per row and metric: n, mean, std, the seeds' values, the paper's reference, a status and (where
the runs kept per-query artifacts) the cell's 95 % interval over eval queries and seeds. Per claim:
its verdict, each comparison's paired difference with its interval, and the evidence text the
table shows. The top-level diff/lo/hi of a claim are those of its weakest comparison (the lowest
lower bound): the one that decides whether it holds. Numbers are in the table's units.
"""

from __future__ import annotations

import csv
import io
import json

from ..errors import VdiError
from ..spec import PROFILES, Spec, find_spec, list_specs

CSV_FIELDS = ("table", "row", "role", "metric", "n", "mean", "std", "values", "paper", "status", "ci_lo", "ci_hi")


def _status(profile: str, metric, cell, ref) -> str:
    if cell is None:
        return "not run"
    if profile != "paper" or ref is None:
        return "measured"
    return "within tolerance" if abs(cell.mean - ref) <= metric.tolerance + 1e-9 else "outside tolerance"


def table_results(spec: Spec, profile: str, planned, results: dict[str, dict], root=None) -> dict:
    """The JSON-ready form of one table (pure: the same inputs give the same dict)."""
    from ..claims import aggregate, collect_evidence, judge_claim, row_interval
    from ..render import claim_line

    cells = aggregate(spec, profile, planned, results)
    evidence = collect_evidence(spec, profile, planned, results, root)
    rows = []
    for r in spec.rows_for(profile):
        seeds = sorted(p.seed for p in planned if p.row == r.id and p.key in results)
        metrics = {}
        for m in spec.metrics:
            cell, ref = cells.get(r.id, {}).get(m.id), r.ref(m.id)
            entry = {"n": 0 if cell is None else cell.n, "mean": None if cell is None else cell.mean,
                     "std": None if cell is None else cell.std, "values": [] if cell is None else list(cell.values),
                     "paper": ref, "status": _status(profile, m, cell, ref), "ci": None}
            ci = row_interval(evidence, r.id, m.id) if cell is not None else None
            if ci is not None:
                entry["ci"] = [ci[1], ci[2]]
                if ref is not None:
                    entry["paper_in_ci"] = ci[1] <= ref <= ci[2]
            metrics[m.id] = entry
        ev = evidence.get(r.id)
        rows.append({"id": r.id, "role": r.role, "settings": dict(r.settings), "seeds": seeds, "metrics": metrics,
                     "no_interval": ev if isinstance(ev, str) else ("not run" if ev is None else None)})
    claims = []
    for c in spec.claims:
        res = judge_claim(spec, c, cells, profile, evidence)
        comps = [{"label": x.label, "metric": x.metric, "mean_a": x.mean_a, "mean_b": x.mean_b, "verdict": x.verdict,
                  "diff": x.diff, "lo": x.lo, "hi": x.hi, "seeds": x.seeds, "seeds_needed": x.seeds_needed,
                  "no_interval": x.no_interval or None} for x in res.comparisons]
        bounded = [x for x in comps if x["lo"] is not None]
        weakest = min(bounded, key=lambda x: x["lo"]) if bounded else {}
        claims.append({"id": c.id, "text": c.text, "kind": c.kind, "verdict": res.verdict,
                       "interval": res.interval, "diff": weakest.get("diff"), "lo": weakest.get("lo"),
                       "hi": weakest.get("hi"), "comparisons": comps,
                       "evidence": claim_line(spec, c, res).split(" ", 2)[2]})
    return {"table": spec.id, "title": spec.title, "profile": profile, "version": spec.version,
            "metrics": [{"id": m.id, "label": m.label, "higher_is_better": m.higher_is_better,
                         "tolerance": m.tolerance} for m in spec.metrics],
            "runs": {"planned": len({p.key for p in planned}), "with_results": len(results)},
            "rows": rows, "claims": claims}


def _text(t: dict) -> str:
    out = [f"{t['table']} ({t['profile']}): {t['title']}"]
    for r in t["rows"]:
        for m, e in r["metrics"].items():
            if e["n"] == 0:
                out.append(f"  {r['id']:22s} {m:14s} not run")
                continue
            ci = f" CI [{e['ci'][0]:.2f}, {e['ci'][1]:.2f}]" if e["ci"] else ""
            paper = "" if e["paper"] is None else f" paper {e['paper']:g}"
            out.append(f"  {r['id']:22s} {m:14s} n={e['n']} {e['mean']:.3f} ± {e['std']:.3f}{ci}{paper} "
                       f"({e['status']})")
    for c in t["claims"]:
        out.append(f"  claim {c['id']}: {c['verdict'] or 'not run'} — {c['evidence']}")
    return "\n".join(out)


def _csv(tables: list[dict]) -> str:
    """One line per cell (long format); values joined by ';'."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for t in tables:
        for r in t["rows"]:
            for m, e in r["metrics"].items():
                w.writerow({"table": t["table"], "row": r["id"], "role": r["role"], "metric": m, "n": e["n"],
                            "mean": e["mean"], "std": e["std"], "values": ";".join(repr(v) for v in e["values"]),
                            "paper": e["paper"], "status": e["status"], "ci_lo": e["ci"][0] if e["ci"] else "",
                            "ci_hi": e["ci"][1] if e["ci"] else ""})
    return buf.getvalue()


def cmd_results(args) -> int:
    from ..runner import load_results, plan

    if args.json and args.csv:
        raise VdiError("--json and --csv are two output formats; pass one of them")
    names = list_specs() if not args.tables or args.tables == ["all"] else args.tables
    tables = []
    for name in names:
        spec = find_spec(name)
        planned = plan(spec, args.profile)
        tables.append(table_results(spec, args.profile, planned, load_results(planned)))
    if args.json:
        print(json.dumps({"profile": args.profile, "tables": tables}, indent=1, ensure_ascii=False, allow_nan=False))
    elif args.csv:
        print(_csv(tables), end="")
    else:
        print("\n\n".join(_text(t) for t in tables))
    return 0


def register(sub) -> None:
    p = sub.add_parser("results", help="a table's numbers, intervals and claim verdicts as JSON, CSV or text")
    p.add_argument("tables", nargs="*", help="table ids (table1..table6, fig1) or 'all' (default)")
    p.add_argument("--profile", choices=PROFILES, default="mini")
    p.add_argument("--json", action="store_true", help="machine-readable JSON: {profile, tables: [...]}")
    p.add_argument("--csv", action="store_true", help="one CSV line per cell (table, row, metric, n, mean, ...)")
    p.set_defaults(func=cmd_results)
