"""Suite commands: list, refs, run, render, report, check."""

from __future__ import annotations

import json
import os
import sys

from ..check import check
from ..errors import VdiError
from ..executors import cli as executors
from ..jobs import record_plans
from ..render import render_report, render_table, tables_dir, write_table
from ..runner import execute, load_results, plan, results_root
from ..spec import PROFILES, find_spec, list_specs
from ..store import RunStore, atomic_write_text


def _tables(names: list[str]) -> list[str]:
    if not names or names == ["all"]:
        return list_specs()
    return names


def _device(arg: str, profile: str) -> str:
    if arg != "auto":
        return arg
    if profile == "mini":  # the mini profile's numbers (and its golden file) are CPU numbers
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _jobs(arg: int, profile: str, device: str) -> int:
    """Worker processes: on the mini profile one per core (each run uses one thread), up to 4."""
    if arg > 0:
        return arg
    return min(os.cpu_count() or 1, 4) if profile == "mini" and device == "cpu" else 1


def reference_cells(specs) -> list[dict]:
    cells = []
    for spec in specs:
        for row in spec.rows:
            for m in spec.metrics:
                ref = row.ref(m.id)
                if ref is not None and row.role == "row":
                    cells.append({"table": spec.id, "row": dict(row.settings), "metric": m.id, "value": ref,
                                  "bold": m.id in row.bold})
    return cells


def cmd_list(args) -> int:
    for name in list_specs():
        spec = find_spec(name)
        print(f"{name:8s} {spec.task:13s} {len(spec.rows_for('paper')):2d} rows  {spec.title}")
    return 0


def cmd_refs(args) -> int:
    specs = [find_spec(t) for t in _tables(args.tables)]
    cells = reference_cells(specs)
    if args.json:
        print(json.dumps(cells, indent=1, ensure_ascii=False))
    else:
        for c in cells:
            row = ", ".join(f"{k}={v}" for k, v in c["row"].items())
            print(f"{c['table']:7s} {row:45s} {c['metric']:14s} {c['value']:g}{' (bold)' if c['bold'] else ''}")
        print(f"{len(cells)} reference cells", file=sys.stderr)
    return 0


def _render(spec, profile: str, seeds: int | None = None) -> str:
    planned = plan(spec, profile, seeds=seeds)
    results = load_results(planned)
    text = render_table(spec, profile, planned, results)
    artifacts = [RunStore(results_root(), profile).artifact_dir(p.key) for p in planned if p.key in results]
    path = write_table(spec, profile, text, artifact_dirs=artifacts)
    print(f"wrote {path}")
    return text


def cmd_run(args) -> int:
    executors.check_local_only(args)
    device = executors.executor_device(args) or _device(args.device, args.profile)
    rows = args.rows.split(",") if args.rows else None
    specs = [find_spec(name) for name in _tables(args.tables)]
    planned = [p for spec in specs for p in plan(spec, args.profile, seeds=args.seeds, rows=rows, device=device)]
    record_plans(results_root(), planned)  # what `vdi status` reads
    if args.executor == "slurm":
        code, failures = executors.run_slurm(args, planned, device)
        failed = dict(enumerate(failures))
    else:
        # All tables at once: a row shared by several tables runs once, and workers stay busy.
        run = lambda: execute(planned, device=device, force=args.force, jobs=_jobs(args.jobs, args.profile, device),
                              devices=executors.local_devices(args))
        out = executors.run_with_progress(run, args.profile) if sys.stdout.isatty() else run()
        print(f"{len(out.ran)} run, {len(out.cached)} cached, {len(out.failed)} failed")
        failed = out.failed
    sections = [(spec, _render(spec, args.profile, args.seeds)) for spec in specs]
    if args.report:
        path = tables_dir(args.profile) / "report.md"
        atomic_write_text(path, render_report(sections, args.profile))
        print(f"wrote {path}")
    for reason in failed.values():
        print(f"failed: {reason}", file=sys.stderr)
    return 1 if failed else 0


def cmd_render(args) -> int:
    for name in _tables(args.tables):
        _render(find_spec(name), args.profile)
    return 0


def cmd_report(args) -> int:
    sections = [(find_spec(n), _render(find_spec(n), args.profile)) for n in _tables(args.tables)]
    path = tables_dir(args.profile) / "report.md"
    atomic_write_text(path, render_report(sections, args.profile))
    print(f"wrote {path}")
    return 0


def cmd_check(args) -> int:
    specs = [find_spec(n) for n in _tables(args.tables)]
    rep = check(specs, args.profile, update_golden=args.update_golden)
    for n in rep.notes:
        print(f"note: {n}")
    for f in rep.failures:
        print(f"FAIL: {f}")
    print(f"vdi check ({args.profile}): {'OK' if rep.ok else f'{len(rep.failures)} failure(s)'}")
    return 0 if rep.ok else 1


def register(sub) -> None:
    def add(name, fn, help_, tables=True):
        p = sub.add_parser(name, help=help_)
        if tables:
            p.add_argument("tables", nargs="*", help="table ids (table1..table6, fig1) or 'all' (default)")
        p.set_defaults(func=fn)
        return p

    add("list", cmd_list, "list the experiment specs", tables=False)
    p = add("refs", cmd_refs, "print the paper's reference cells")
    p.add_argument("--json", action="store_true", help="as a JSON list of {table,row,metric,value}")
    for name, fn, help_ in [("run", cmd_run, "run missing rows of tables and render them"),
                            ("render", cmd_render, "render tables/<profile>/<table>.md from stored results"),
                            ("report", cmd_report, "render all tables into tables/<profile>/report.md"),
                            ("check", cmd_check, "regression check against the paper / the golden file")]:
        p = add(name, fn, help_)
        p.add_argument("--profile", choices=PROFILES, default="mini")
        if name == "run":
            p.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the spec's)")
            p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (mini: cpu)")
            p.add_argument("--rows", default="", help="comma-separated row ids to run (default: all)")
            p.add_argument("--force", action="store_true", help="re-run rows even if results exist")
            p.add_argument("--report", action="store_true", help="also write tables/<profile>/report.md")
            p.add_argument("--jobs", type=int, default=0,
                           help="rows run in parallel worker processes (default: mini on CPU, one per core up to 4)")
            executors.add_executor_args(p)
        if name == "check":
            p.add_argument("--update-golden", action="store_true",
                           help="rewrite tables/mini/golden.json from the current results")


__all__ = ["register", "reference_cells", "VdiError"]
