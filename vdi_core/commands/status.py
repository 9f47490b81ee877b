"""`vdi status [TABLE|all] [--profile] [--watch]`: where every run of a table stands.

Per run: done, running, queued, failed or missing, with the Slurm job id, and for a failure its
error line and log path. Reads only the store (results, jobs/, plans/; vdi_core/jobs.py) and
submitit's job folders, plus one `squeue` call when Slurm is there, so it never imports torch and
works for local runs without Slurm.
"""

from __future__ import annotations

import sys
import time

from ..errors import VdiError
from ..spec import PROFILES, find_spec, list_specs


def _plans(tables: list[str], store_dir):
    from ..jobs import read_plan

    out = {}
    for table in tables:
        find_spec(table)  # did-you-mean on a typo (reads TOML only)
        out[table] = read_plan(store_dir, table)
    return out


def cmd_status(args) -> int:
    from ..jobs import run_states, squeue_states
    from ..paths import results_root
    from ..progress import fmt_duration, summary

    store_dir = results_root() / args.profile
    tables = list_specs() if not args.tables or args.tables == ["all"] else args.tables
    plans = _plans(tables, store_dir)
    unplanned = [t for t, runs in plans.items() if runs is None]
    for t in unplanned:
        print(f"{t}: no plan recorded yet (`vdi run {t} --profile {args.profile}` records one)")
    plans = {t: runs for t, runs in plans.items() if runs is not None}
    keys = list(dict.fromkeys(r["key"] for runs in plans.values() for r in runs))
    if not keys:
        return 0
    if args.watch:
        return _watch(store_dir, plans, keys, args.interval)
    from ..jobs import read_job, stderr_tail

    jobs = {k: read_job(store_dir, k) or {} for k in keys}
    states = run_states(store_dir, keys, squeue_states([j["job_id"] for j in jobs.values() if j.get("job_id")]))
    for table, runs in plans.items():
        mine = {r["key"]: states[r["key"]] for r in runs}
        print(f"{table} ({args.profile}): {summary(mine)}")
        for r in runs:
            s = states[r["key"]]
            wall = f" in {fmt_duration(s.wall_s)}" if s.state == "done" and s.wall_s is not None else ""
            job = f" job {s.job_id}" if s.job_id else ""
            detail = f": {s.detail}" if s.detail else ""
            print(f"  {r['row']:24s} seed {r['seed']}  {s.state}{wall}{job}{detail}")
            if s.state == "failed" and s.log:
                print(f"    log: {s.log}")
                for line in stderr_tail(jobs[r["key"]], 3):
                    print(f"    | {line}")
    failed = sum(s.state == "failed" for s in states.values())
    return 1 if failed else 0


def _watch(store_dir, plans, keys, interval: float) -> int:
    from ..jobs import read_job, run_states
    from ..progress import PlanDisplay

    labels = {r["key"]: f"{t}:{r['row']} s{r['seed']}" for t, runs in plans.items() for r in runs}
    display = PlanDisplay(len(keys), sys.stdout, labels)
    try:
        while True:
            states = run_states(store_dir, keys)
            logs = {k: (read_job(store_dir, k) or {}).get("stdout", "") for k, s in states.items()
                    if s.state == "running"}
            display.update(states, logs)
            if not any(s.state in ("queued", "running") for s in states.values()):
                break
            time.sleep(interval)
    finally:
        display.close()
    return 1 if any(s.state == "failed" for s in states.values()) else 0


def register(sub) -> None:
    p = sub.add_parser("status", help="per run of a table: done, running, queued, failed or missing")
    p.add_argument("tables", nargs="*", help="table ids or 'all' (default)")
    p.add_argument("--profile", choices=PROFILES, default="mini")
    p.add_argument("--watch", action="store_true", help="a live display until nothing is queued or running")
    p.add_argument("--interval", type=float, default=2.0, help="--watch: seconds between looks")
    p.set_defaults(func=cmd_status)


__all__ = ["register", "VdiError"]
