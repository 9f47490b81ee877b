"""Markdown tables, one per spec and profile, and the report that joins them.

Rendering is a pure function of (spec, planned runs, result records): no clock, no machine state,
so re-rendering unchanged results gives byte-identical files and `vdi check` can tell a stale
table from a fresh one. The hidden comment at the end records what the table was rendered from.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tabulate import tabulate

from .claims import ClaimResult, aggregate, collect_evidence, judge_claim, row_interval
from .io import atomic_copy, atomic_write_text
from .paths import tables_root
from .spec import Spec
from .store import canonical_json

DASH = "—"
MINI_NOTE = ("> **Mini profile** — a procedurally generated toy world with a micro-CLIP. Absolute numbers are "
             "not the paper's: the paper column is for orientation only, and status reflects the table's "
             "claims (orderings), not distances to the paper.")


def tables_dir(profile: str, root: Path | None = None) -> Path:
    """tables/<profile>/ of this checkout, or under $VDI_TABLES."""
    return (Path(root) if root else tables_root()) / profile


def _digest(obj) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:16]


def render_stamp(planned, results: dict[str, dict]) -> str:
    keys = sorted({p.key for p in planned})
    present = {k: results[k] for k in keys if k in results}
    return (f"<!-- vdi-render plan={_digest(keys)} results={_digest(present)} n={len(present)} -->")


def _fmt(v: float | None, decimals: int, bold: bool = False) -> str:
    if v is None:
        return DASH
    s = f"{v:.{decimals}f}"
    return f"**{s}**" if bold else s


def _measured(cell, decimals: int, bold: bool) -> str:
    if cell is None:
        return DASH
    s = f"{cell.mean:.{decimals}f}"
    if cell.n > 1:
        s += f" ± {cell.std:.{decimals}f}"
    return f"**{s}**" if bold else s


def _status(spec, metric, cell, ref, ci=None) -> str:
    if cell is None or ref is None:
        return DASH
    delta = cell.mean - ref
    mark = "✓" if abs(delta) <= metric.tolerance + 1e-9 else "✗"
    where = "" if ci is None else (" (in CI)" if ci[1] <= ref <= ci[2] else " (outside CI)")
    return f"{delta:+.{metric.decimals}f} {mark}{where}"


# Tables live in tables/<profile>/: the notes that define the A-ids, relative to them.
NOTES_LINK = "../../docs/REPRODUCTION_NOTES.md#our-assumptions-a-and-their-knobs"
MARKS = {"holds": "✓", "contradicted": "✗", "undecided": "≈", None: DASH}


def _signed(x: float, decimals: int) -> str:
    return f"{x:+.{decimals}f}".replace("-", "\u2212")


def _comparison(spec: Spec, kind: str, c) -> str:
    d = spec.metric(c.metric).decimals
    if c.threshold:  # at_least: the row against a fixed value
        if c.no_interval:
            return f"{c.label}: {c.mean_a:.{d}f} {'≥' if c.mean_a >= c.mean_b else '<'} {c.mean_b:g}"
        dd = max(1, d - 1)
        return f"{c.label} − {c.mean_b:g}: Δ {_signed(c.diff, dd)} [{_signed(c.lo, dd)}, {_signed(c.hi, dd)}]"
    plus = f" + {c.margin:g}" if c.margin else ""
    if c.no_interval:  # the means, as tables showed them before intervals
        if kind == "min":  # a is the other row, b the claimed minimum
            return f"{c.label}: {c.mean_b:.{d}f} {'<' if c.mean_a > c.mean_b else '≥'} {c.mean_a:.{d}f}"
        return (f"{c.label}: {c.mean_a:.{d}f} {'>' if c.mean_a > c.mean_b + c.margin else '≤'} "
                f"{c.mean_b:.{d}f}{plus}")
    dd = max(1, d - 1)
    need = f" (needs > {c.margin:g})" if c.margin else ""
    return f"{c.label}: Δ {_signed(c.diff, dd)} [{_signed(c.lo, dd)}, {_signed(c.hi, dd)}]{need}"


def claim_line(spec: Spec, claim, res: ClaimResult) -> str:
    """One bullet: mark, claim, the comparisons behind it (and for an undecided claim, roughly how
    many seeds would settle it)."""
    if res.verdict is None:
        return f"- {DASH} {claim.text} — {res.missing}"
    text = "; ".join(_comparison(spec, claim.kind, c) for c in res.comparisons)
    reasons = sorted({c.no_interval for c in res.comparisons if c.no_interval})
    if reasons:
        text += f" · no interval ({reasons[0]})"
    elif res.verdict == "undecided":
        needed = [c.seeds_needed for c in res.comparisons if c.verdict == "undecided"]
        if needed and all(n is not None for n in needed):
            n = max(needed)
            text += f" · ≈ {n if n <= 1000 else '> 1000'} seeds would settle it"
        elif any(c.seeds > 1 and c.seeds_needed is None for c in res.comparisons if c.verdict == "undecided"):
            text += " · more seeds alone would not settle it"
    return f"- {MARKS[res.verdict]} {claim.text} — {text}"


def render_table(spec: Spec, profile: str, planned, results: dict[str, dict], root: Path | None = None) -> str:
    """root: the results store holding the runs' artifacts (default: results_root())."""
    cells = aggregate(spec, profile, planned, results)
    evidence = collect_evidence(spec, profile, planned, results, root)
    rows = spec.rows_for(profile)
    table_rows = [r for r in rows if r.role == "row"]
    # Bold the best measured row per metric, like the paper does; only where rows compare methods
    # (a table with paper references), not where they are data sets (Figure 1).
    has_refs = any(r.reference for r in rows)
    best = {}  # metric -> row id with the best measured mean
    for m in spec.metrics:
        have = [(cells[r.id][m.id].mean, r.id) for r in table_rows if m.id in cells.get(r.id, {})]
        if has_refs and len(have) > 1:
            best[m.id] = (max(have) if m.higher_is_better else min(have))[1]

    headers = [label for _, label in spec.settings_columns]
    for m in spec.metrics:
        headers += [m.label] + (["paper"] if has_refs else []) + (["Δ"] if profile == "paper" and has_refs else [])
    body, any_ci = [], False
    for r in rows:
        settings = dict(r.settings)
        line = [str(settings.get(c, "")) for c, _ in spec.settings_columns]
        if r.role == "reference" and line:
            line[0] = f"*{line[0]}*"
        for m in spec.metrics:
            cell = cells.get(r.id, {}).get(m.id)
            ref = r.ref(m.id)
            line.append(_measured(cell, m.decimals, best.get(m.id) == r.id))
            if has_refs:
                line.append(_fmt(ref, m.decimals, m.id in r.bold) if ref is not None else "")
            if profile == "paper" and has_refs:
                ci = row_interval(evidence, r.id, m.id) if cell is not None and ref is not None else None
                any_ci = any_ci or ci is not None
                line.append(_status(spec, m, cell, ref, ci))
        body.append(line)

    n_seeds = max([len([p for p in planned if p.row == r.id]) for r in rows] or [0])
    out = [f"# {spec.title} ({profile} profile)", ""]
    if profile == "mini":
        out += [MINI_NOTE, ""]
    if spec.caption:
        out += [spec.caption, ""]
    out += [tabulate(body, headers=headers, tablefmt="github", disable_numparse=True), ""]
    for name in spec.outputs:  # copied next to this file by `vdi render` once a run made it
        out += [f"![{spec.title}]({name})", ""]
    out += [f"Cells: mean ± sample std over {n_seeds} seed(s); {DASH} = not run yet."
            + (" Bold: best measured (ours) / marked best in the paper (paper column)." if has_refs else "")]
    if profile == "paper" and has_refs:
        tol = ", ".join(f"{m.label} ±{m.tolerance:g}" for m in spec.metrics)
        out += [f"Δ = measured − paper; ✓ within tolerance ({tol}), ✗ outside."
                + (" In / outside CI: the paper's number inside / outside our 95 % interval for the cell "
                   "(over eval queries and seeds)." if any_ci else "")]
    out += ["", "## Claims", ""]
    judged = [(c, judge_claim(spec, c, cells, profile, evidence)) for c in spec.claims]
    out += [claim_line(spec, c, res) for c, res in judged]
    if not spec.claims:
        out.append("- (this table states no orderings)")
    elif any(res.interval for _, res in judged):
        out += ["", "✓ holds: the 95 % interval of every comparison lies above 0; ✗ contradicted: one lies below 0; "
                "≈ undecided. Δ = difference in the claimed direction, with its paired interval over the "
                "eval queries and seeds (`vdi_core/stats.py`)."]
    out += ["", _footer(spec, profile, planned, results, n_seeds), "", render_stamp(planned, results), ""]
    return "\n".join(out)


def _footer(spec: Spec, profile: str, planned, results: dict[str, dict], n_seeds: int) -> str:
    recs = [results[p.key] for p in planned if p.key in results]
    uniq = lambda xs: ", ".join(sorted({str(x) for x in xs})) or DASH  # noqa: E731
    assumptions = sorted({a for r in recs for a in r["provenance"]["assumptions"]}, key=lambda s: (len(s), s))
    packages = {}
    for r in recs:
        for k, v in r["provenance"]["packages"].items():
            packages.setdefault(k, set()).add(v)
    pk = ", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in sorted(packages.items())) or DASH
    finished = sorted(r["provenance"]["finished"] for r in recs)
    days = sorted({f[:10] for f in finished})
    date = (days[0] if len(days) == 1 else f"{days[0]} … {days[-1]}") if days else DASH
    lines = [
        f"Profile `{profile}` · task `{spec.task}` · spec `{spec.id}` v{spec.version} · seeds: {n_seeds} · "
        f"runs with results: {len({r['key'] for r in recs})}/{len({p.key for p in planned})}",
        f"Assumptions in force ([docs/REPRODUCTION_NOTES.md]({NOTES_LINK})): {', '.join(assumptions) or DASH}",
        f"Commit: {uniq(r['provenance']['git_commit'] for r in recs)} · device: "
        f"{uniq(r['provenance']['device'] for r in recs)} · runs finished: {date}",
        f"Versions: {pk}",
    ]
    return "\n".join(f"<sub>{x}</sub><br>" for x in lines)


def write_table(spec: Spec, profile: str, text: str, root: Path | None = None,
                artifact_dirs: list[Path] = ()) -> Path:
    """Write the table, and copy the spec's declared outputs from the runs' artifact folders."""
    path = tables_dir(profile, root) / f"{spec.id}.md"
    atomic_write_text(path, text)
    for name in spec.outputs:
        found = [d / name for d in artifact_dirs if (d / name).is_file()]
        if found:
            atomic_copy(found[0], path.with_name(name))
    return path


def render_report(sections: list[tuple[Spec, str]], profile: str) -> str:
    """One markdown document of all tables (the per-table files stay the source of truth)."""
    out = [f"# VDI supplementary tables — {profile} profile", ""]
    out += [f"- [{spec.title}](#{spec.id})" for spec, _ in sections] + [""]
    for spec, text in sections:
        body = text.split("\n", 1)[1] if text.startswith("# ") else text
        out += [f'<a id="{spec.id}"></a>', f"## {spec.title}", body.replace("\n## Claims", "\n### Claims"), ""]
    return "\n".join(out)
