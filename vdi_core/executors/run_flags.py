"""The executor flags of `vdi run` and the Slurm branch of it (kept out of commands/suite.py)."""

from __future__ import annotations

import os
import sys
import time

from ..errors import VdiError
from . import EXECUTORS

SLURM_FLAGS = [  # (flag, option name, type, help)
    ("--partition", "partition", str, "Slurm partition"),
    ("--gpus-per-run", "gpus_per_run", int, "GPUs per run (Slurm)"),
    ("--cpus-per-run", "cpus_per_run", int, "CPU cores per run (Slurm)"),
    ("--mem-gb", "mem_gb", float, "memory per run in GB (Slurm)"),
    ("--time-min", "time_min", int, "time limit per run in minutes (Slurm; a run past it is requeued and resumes)"),
    ("--account", "account", str, "Slurm account"),
    ("--qos", "qos", str, "Slurm QOS"),
    ("--array-parallelism", "array_parallelism", int, "most array tasks running at once (Slurm)"),
]


def add_executor_args(p) -> None:
    add_slurm_args(p)
    p.add_argument("--gpus", default="", help="local: GPU indices to run on, one run per GPU at a time (e.g. 0,1,2,3)")
    p.add_argument("--runs-per-gpu", type=int, default=1, help="local with --gpus: runs sharing one GPU")


def add_slurm_args(p) -> None:
    """--executor and the Slurm options: shared by `vdi run` and `vdi features extract`."""
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: this machine (default); slurm: one submitit job array")
    p.add_argument("--wait", action="store_true", help="slurm: wait for the jobs, showing progress")
    p.add_argument("--wait-timeout", type=float, default=0, help="slurm --wait: give up after this many seconds")
    p.add_argument("--slurm-config", default=None,
                   help="user config with an [executor.slurm] table "
                        "(default: $VDI_CONFIG or ~/.config/vdi/config.toml)")
    for flag, _name, kind, help_ in SLURM_FLAGS:
        p.add_argument(flag, type=kind, default=None, help=help_)
    p.add_argument("--sbatch", action="append", default=None, metavar="LINE",
                   help='slurm: an extra sbatch option, e.g. --sbatch=--constraint=a100 (repeatable)')


def local_devices(args) -> list[str] | None:
    """--gpus -> the pinned device slots (gpu_slots.py), or None."""
    if not args.gpus:
        if args.runs_per_gpu != 1:
            raise VdiError("--runs-per-gpu needs --gpus (e.g. --gpus 0,1 --runs-per-gpu 2)")
        return None
    if args.device not in ("auto", "cuda"):
        raise VdiError(f"--gpus pins runs to GPUs; it cannot be combined with --device {args.device}")
    from ..gpu_slots import device_slots, parse_gpus

    return device_slots(parse_gpus(args.gpus), args.runs_per_gpu)


def check_local_only(args) -> None:
    if args.gpus and args.executor != "local":
        raise VdiError("--gpus is for --executor local; on Slurm use --gpus-per-run")
    check_slurm_only(args)


def check_slurm_only(args) -> None:
    """The Slurm flags given with --executor local are a mistake, never silently ignored."""
    given = [flag for flag, name, _k, _h in SLURM_FLAGS if getattr(args, name) is not None]
    given += ["--sbatch"] if args.sbatch else []
    given += ["--wait"] if args.wait else []
    if args.executor == "local" and given:
        raise VdiError(f"{', '.join(given)} only apply to --executor slurm")


def run_with_progress(run, profile: str):
    """A local run on a terminal: the live display, the runs' own lines in a log file."""
    from datetime import datetime

    from ..paths import results_root
    from ..progress_local import LocalProgress

    log = results_root() / profile / "logs" / f"run-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
    with LocalProgress(log):
        out = run()
    print(f"the runs' log: {log}")
    return out


def executor_device(args) -> str | None:
    """The device runs get when the executor decides it: --gpus pins runs to GPUs; on Slurm with
    --device auto, a run is on a GPU iff it asks for one (the login node's own GPUs say nothing)."""
    if args.gpus:
        return "cuda"
    if args.executor == "slurm" and args.device == "auto":
        return "cuda" if slurm_options(args).gpus_per_run > 0 else "cpu"
    return None


def slurm_options(args):
    from .slurm import load_options

    cli = {name: getattr(args, name) for _f, name, _k, _h in SLURM_FLAGS}
    cli["extra_sbatch"] = args.sbatch
    return load_options(args.slurm_config, cli)


def run_slurm(args, planned, device: str) -> tuple[int, list[str]]:
    """Submit; with --wait, follow the jobs to the end. Returns (exit code, failure lines)."""
    from ..jobs import run_states
    from ..progress import PlanDisplay
    from .slurm import submit

    sub = submit(planned, device, args.force, slurm_options(args))
    n = len(sub.submitted)
    per_run = f" ({1000 * sub.seconds / n:.0f} ms per run)" if n else ""
    print(f"{n} submitted in {sub.seconds:.1f}s{per_run}, {len(sub.active)} already queued or running, "
          f"{len(sub.cached)} cached")
    if not args.wait:
        return 0, []
    keys = list(dict.fromkeys(p.key for p in planned))
    store_dir = _store_dir(planned)
    display = PlanDisplay(len(keys), sys.stdout)
    deadline = time.time() + args.wait_timeout if args.wait_timeout else None
    while True:
        states = run_states(store_dir, keys)
        display.update(states)
        if not any(s.state in ("queued", "running") for s in states.values()):
            break
        if deadline and time.time() > deadline:
            display.close()
            raise VdiError(f"--wait-timeout {args.wait_timeout:g}s passed with runs still queued or running; "
                           f"they go on: follow them with `vdi status --watch`")
        time.sleep(2.0)
    display.close()
    by_key = {p.key: p for p in planned}
    failed = [f"{by_key[k].table}:{by_key[k].row} seed {by_key[k].seed}: {s.state} "
              f"(job {s.job_id or '-'}): {s.detail} [log {s.log or '-'}]"
              for k, s in states.items() if s.state in ("failed", "missing")]
    return (1 if failed else 0), failed


def _store_dir(planned):
    from ..paths import results_root

    return results_root() / planned[0].profile
