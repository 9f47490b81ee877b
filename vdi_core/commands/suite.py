"""Suite commands: list, refs, run, render, report, check."""

from __future__ import annotations

import json
import os
import re
import sys

from ..errors import VdiError
from ..executors import run_flags as executors
from ..paths import results_root
from ..spec import PROFILES, find_spec, list_specs

# The planning, rendering and checking modules (numpy, tabulate) are imported by the commands that
# use them, so `vdi --help` and `vdi list` start in a fraction of a second (tests/bench/test_bench_cli.py).


def _tables(names: list[str], profile: str | None = None) -> list[str]:
    """The named tables, or every spec; with a profile, "all" leaves out the specs with no row on it
    (the premise ladder is mini-only: no empty paper table)."""
    if not names or names == ["all"]:
        return [n for n in list_specs() if profile is None or find_spec(n).rows_for(profile)]
    return names


_DEVICE = re.compile(r"^(cpu|cuda|cuda:\d+|auto)$")


def _device(arg: str, profile: str) -> str:
    """The device a run uses; checked before anything is planned or created (a run that asks for a
    GPU the machine lacks must not leave an empty work folder behind)."""
    if not _DEVICE.match(arg):
        raise VdiError(f"--device '{arg}' is not a device; use cpu, cuda, cuda:N or auto")
    if arg == "cpu" or (arg == "auto" and profile == "mini"):
        return "cpu"  # the mini profile's numbers (and its golden file) are CPU numbers
    import torch

    if arg == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise VdiError(f"--device {arg}: no CUDA device is available here (torch.cuda.is_available() is False); "
                       f"use --device cpu or run on a GPU machine")
    if ":" in arg and int(arg.split(":")[1]) >= torch.cuda.device_count():
        raise VdiError(f"--device {arg}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                       f"(cuda:0..cuda:{torch.cuda.device_count() - 1})")
    return arg


def _results_device(arg: str, spec, profile: str) -> str:
    """The device kind whose stored results `render` / `check` read (the kind is part of every run
    key). Explicit: that kind. auto: mini reads CPU results (its golden file holds CPU numbers);
    paper reads the kind with more stored results of this table, CUDA on a tie."""
    if not _DEVICE.match(arg):
        raise VdiError(f"--device '{arg}' is not a device; use cpu, cuda, cuda:N or auto")
    if arg != "auto":
        return "cuda" if arg.startswith("cuda") else "cpu"
    if profile == "mini":
        return "cpu"
    from ..runner import load_results, plan

    counts = {k: len(load_results(plan(spec, profile, device=k))) for k in ("cuda", "cpu")}
    return "cpu" if counts["cpu"] > counts["cuda"] else "cuda"


def _seeds(arg: int | None) -> int | None:
    if arg is not None and arg < 1:
        raise VdiError(f"--seeds must be >= 1, got {arg} (a table of 0 seeds would be all dashes)")
    return arg


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


def _render(spec, profile: str, seeds: int | None = None, device: str = "auto") -> str:
    from ..render import render_table, write_table
    from ..runner import load_results, plan
    from ..store import RunStore

    planned = plan(spec, profile, seeds=seeds, device=_results_device(device, spec, profile))
    results = load_results(planned)
    text = render_table(spec, profile, planned, results)
    artifacts = [RunStore(results_root(), profile).artifact_dir(p.key) for p in planned if p.key in results]
    path = write_table(spec, profile, text, artifact_dirs=artifacts)
    print(f"wrote {path}")
    return text


def cmd_run(args) -> int:
    from ..io import atomic_write_text
    from ..jobs import record_plans
    from ..render import render_report, tables_dir
    from ..runner import execute, plan

    executors.check_local_only(args)
    seeds = _seeds(args.seeds)
    device = executors.executor_device(args) or _device(args.device, args.profile)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()] if args.rows else None
    if args.rows and not rows:
        raise VdiError(f"--rows '{args.rows}' names no row; give comma-separated row ids or leave it out")
    if args.jobs < 0:
        raise VdiError(f"--jobs must be >= 0 (0: the default), got {args.jobs}")
    specs = [find_spec(name) for name in _tables(args.tables, args.profile)]
    planned = [p for spec in specs for p in plan(spec, args.profile, seeds=seeds, rows=rows, device=device)]
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
    sections = [(spec, _render(spec, args.profile, seeds, device)) for spec in specs]
    if args.report:
        path = tables_dir(args.profile) / "report.md"
        atomic_write_text(path, render_report(sections, args.profile))
        print(f"wrote {path}")
    for reason in failed.values():
        print(f"failed: {reason}", file=sys.stderr)
    return 1 if failed else 0


def cmd_render(args) -> int:
    for spec in [find_spec(name) for name in _tables(args.tables, args.profile)]:
        _render(spec, args.profile, device=args.device)
    return 0


def cmd_report(args) -> int:
    from ..io import atomic_write_text
    from ..render import render_report, tables_dir

    specs = [find_spec(n) for n in _tables(args.tables, args.profile)]
    sections = [(spec, _render(spec, args.profile, device=args.device)) for spec in specs]
    path = tables_dir(args.profile) / "report.md"
    atomic_write_text(path, render_report(sections, args.profile))
    print(f"wrote {path}")
    return 0


def cmd_check(args) -> int:
    from ..check import check

    specs = [find_spec(n) for n in _tables(args.tables, args.profile)]
    rep = check(specs, args.profile, update_golden=args.update_golden,
                devices={s.id: _results_device(args.device, s, args.profile) for s in specs})
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
            p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (mini: cpu)")
        else:
            p.add_argument("--device", default="auto",
                           help="read the results of this device kind: cpu, cuda or auto (mini: cpu; paper: the "
                                "kind with more results)")
        if name == "run":
            p.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the spec's)")
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
