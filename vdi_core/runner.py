"""The life of a row: spec -> resolved config -> key -> (cached or fresh) run -> result record.

`plan()` resolves every (row, seed) of a table to a `PlannedRun` with its key; `execute()` runs the
ones the store lacks, each saved atomically the moment it finishes, so a failure or a kill later
never loses an earlier row. Rows from several tables that resolve to the same config share one
key and therefore one run (the VDI default row appears in Tables 2-5).

Across processes a key runs once: `_run_one` holds the key's lock (vdi_core/locks.py) while it
runs, and re-reads the store once it has the lock, so a second `vdi run` sharing the row waits and
then takes the first one's result. The work folder work/<key>/ is only touched by the lock holder.
The device kind (cpu / cuda) is part of the key: a GPU run never overwrites a CPU record.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import shutil
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import CODE_VERSION
from .context import BuildJob, RunContext
from .errors import MissingData, VdiError, did_you_mean
from .locks import key_lock
from .paths import cache_root, results_root
from .resolve import apply_overrides, assumptions_in_force, to_dict
from .spec import PROFILES, Spec
from .store import (
    RunStore,
    cpu_kind,
    device_kind,
    device_name,
    git_commit,
    now_iso,
    package_versions,
    run_key,
)
from .tasks import get_task
from .workers import die_with_parent


@dataclass(frozen=True)
class PlannedRun:
    table: str
    row: str
    profile: str
    seed: int
    task: str
    config: Any  # the task's config dataclass, fully resolved
    identity: dict  # everything hashed into the key
    key: str


def make_context(profile: str, seed: int, device: str, work_dir: Path, **kw) -> RunContext:
    return RunContext(profile=profile, seed=seed, device=device, work_dir=work_dir, cache_dir=cache_root(), **kw)


def plan(spec: Spec, profile: str, seeds: int | None = None, rows: list[str] | None = None,
         device: str = "cpu") -> list[PlannedRun]:
    task = get_task(spec.task)
    cfg = apply_overrides(task.config_cls(), dict(spec.base), f"{spec.path} [base]")
    cfg = apply_overrides(cfg, dict(spec.profiles[profile].overrides), f"{spec.path} [profiles.{profile}]")
    if profile not in PROFILES:
        raise VdiError(f"unknown profile '{profile}'{did_you_mean(profile, PROFILES)}")
    n_seeds = seeds if seeds is not None else spec.profiles[profile].seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise VdiError(f"--seeds must be a whole number >= 1, got {n_seeds!r} (a table of 0 seeds would be "
                       f"all dashes)")
    selected = spec.rows_for(profile)
    if rows:
        for r in rows:
            row = spec.row(r)  # did-you-mean on a typo
            if profile not in row.profiles:
                raise VdiError(f"{spec.path}: row '{r}' is not part of the '{profile}' profile (it runs on "
                               f"{', '.join(row.profiles)}); drop it from --rows or pass --profile "
                               f"{row.profiles[0]}")
        selected = tuple(r for r in selected if r.id in rows)
    kind = device_kind(device)
    planned = []
    for row in selected:
        row_cfg = apply_overrides(cfg, dict(row.overrides), f"{spec.path} row '{row.id}'")
        for seed in range(n_seeds):
            ctx = make_context(profile, seed, device, Path("."))
            identity = {
                "task": task.name, "task_version": task.version, "code_version": CODE_VERSION,
                "profile": profile, "seed": seed, "device_kind": kind, "config": to_dict(row_cfg),
                "fingerprints": task.fingerprint(row_cfg, ctx),
            }
            planned.append(PlannedRun(spec.id, row.id, profile, seed, task.name, row_cfg, identity,
                                      run_key(identity)))
    return planned


@dataclass
class Outcome:
    ran: list[str]
    cached: list[str]
    failed: dict[str, str]  # key -> one-line reason


def pin_threads(profile: str) -> None:
    """Mini runs use one intra-op thread: CPU kernels may sum in a different order with another
    thread count, and the golden file must not depend on the machine's cores or on --jobs."""
    if profile == "mini":
        import torch

        torch.set_num_threads(1)


def _run_one(p: PlannedRun, device: str, store_root: Path | None, force: bool, label: str, log=print):
    """Run one planned row and save its record; returns (status, message). Runs in a worker
    process under --jobs > 1, so it reports instead of raising. Holds the key's lock throughout:
    another process running the same key finishes first, and its result is taken as cached."""
    try:
        store = RunStore(store_root or results_root(), p.profile)
        with key_lock(store.lock_path(p.key),
                      on_wait=lambda: log(f"{label}  waiting for another process running this key ({p.key})")):
            if not force:
                try:
                    if store.load(p.key) is not None:
                        log(f"{label}  finished meanwhile by another process; cached")
                        return "cached", ""
                except VdiError as e:
                    return "failed", f"{p.table}:{p.row} seed {p.seed}: {e}"
            return _run_locked(p, device, store, force, label, log)
    except VdiError as e:  # the lock folder cannot be created (read-only store)
        log(f"{label}  FAILED: {e}")
        return "failed", f"{p.table}:{p.row} seed {p.seed}: {e}"


def _run_locked(p: PlannedRun, device: str, store: RunStore, force: bool, label: str, log=print):
    work = store.work_dir(p.key)
    try:
        if force and work.exists():
            shutil.rmtree(work)  # --force means from scratch, not resume
        work.mkdir(parents=True, exist_ok=True)
        store.artifact_dir(p.key).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return "failed", (f"{p.table}:{p.row} seed {p.seed}: cannot create {work} ({e.strerror}); "
                          f"make {store.dir} writable")
    pin_threads(p.profile)
    ctx = make_context(p.profile, p.seed, device, work, log=log, artifact_dir=store.artifact_dir(p.key),
                       progress=lambda stage, k, n: log(f"{label}  {stage} {k}/{n}"))
    log(f"{label}  start (key {p.key})")
    started, t0 = now_iso(), time.time()
    try:
        task = get_task(p.task)
        result = task.run(p.config, ctx)
    except MissingData as e:
        return "missing", str(e)  # nothing else can run either; the message lists what to fetch
    except VdiError as e:
        log(f"{label}  FAILED: {e}")
        return "failed", f"{p.table}:{p.row} seed {p.seed}: {e}"
    except Exception as e:  # noqa: BLE001 - one broken row must not lose the others
        log(f"{label}  FAILED: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        return "failed", f"{p.table}:{p.row} seed {p.seed}: {type(e).__name__}: {e}"
    wall = time.time() - t0
    record = {
        "key": p.key, **p.identity,
        "metrics": result.metrics, "curves": result.curves, "extra": result.extra,
        "provenance": {
            "git_commit": git_commit(), "packages": package_versions(), "device": device_name(device),
            "started": started, "finished": now_iso(), "wall_time_s": round(wall, 2),
            "assumptions": assumptions_in_force(p.config),
        },
    }
    if device_kind(device) == "cpu":
        record["provenance"]["cpu_kind"] = cpu_kind()
    try:
        store.save(p.key, record)
    except VdiError as e:  # a read-only or full disk fails this row; the work folder stays for a resume
        log(f"{label}  FAILED: {e}")
        return "failed", f"{p.table}:{p.row} seed {p.seed}: {e}"
    if work.exists():
        shutil.rmtree(work, ignore_errors=True)
    log(f"{label}  done in {wall:.1f}s")
    return "ran", ""


def _worker_init(task_modules: list[str], parent: int | None = None) -> None:
    # Workers die with their parent: a killed `vdi run` must not leave 1 GB orphans behind.
    die_with_parent(parent if parent is not None else os.getppid())
    # A spawned worker starts empty: import the modules that registered the tasks it will run.
    for name in task_modules:
        importlib.import_module(name)


def execute(planned: list[PlannedRun], device: str = "cpu", force: bool = False,
            store_root: Path | None = None, log=print, jobs: int = 1, devices: list[str] | None = None) -> Outcome:
    """Run what the store lacks; `jobs` > 1 runs rows in that many worker processes (CPU only).
    `devices` (--gpus): one worker per entry, each run pinned to a free entry's device
    (gpu_slots.py); it overrides `device` and `jobs`."""
    if devices:
        jobs, device = len(devices), devices[0]
    unique: dict[str, PlannedRun] = {}
    for p in planned:
        unique.setdefault(p.key, p)
    out = Outcome([], [], {})
    todo = []
    for key, p in unique.items():
        if p.identity.get("device_kind", device_kind(device)) != device_kind(device):
            raise VdiError(f"{p.table}:{p.row} was planned for {p.identity['device_kind']} but is run on {device}; "
                           f"plan with the same --device")
        try:
            record = None if force else RunStore(store_root or results_root(), p.profile).load(key)
        except VdiError as e:  # a stored record of the wrong shape fails its row, not the whole run
            out.failed[key] = f"{p.table}:{p.row} seed {p.seed}: {e}"
            continue
        if record is not None:
            out.cached.append(key)
        else:
            todo.append(p)
    labels = {p.key: f"[{i}/{len(todo)}] {p.table}:{p.row} seed {p.seed}" for i, p in enumerate(todo, 1)}

    def settle(p: PlannedRun, status: str, message: str) -> None:
        if status == "missing":
            raise VdiError(message)
        if status == "failed":
            out.failed[p.key] = message
        elif status == "cached":
            out.cached.append(p.key)
        else:
            out.ran.append(p.key)

    # Shared inputs (a mini backbone) are built before the runs that need them start: otherwise
    # each worker's first run would build the same backbone at the same time.
    builds = _prebuild_jobs(todo, device)
    if builds:
        log(f"building shared inputs first: {', '.join(b.label for b in builds)}")
    if jobs <= 1 or len(todo) + len(builds) <= 1:
        _report_builds([_build(b, log) for b in builds], log)
        for p in todo:
            settle(p, *_run_one(p, device, store_root, force, labels[p.key], log))
        return out
    modules = sorted({get_task(p.task).run.__module__ for p in todo})
    with _pool(jobs, modules) as pool:  # one pool for both phases: workers start (and import torch) once
        if not devices:
            submit = lambda p: pool.submit(_run_one, p, device, store_root, force, labels[p.key])  # noqa: E731
            needs = _build_needs(todo, device) if builds else {}
            _run_when_built(pool, builds, todo, needs, submit, settle, log)
            return out
        from .gpu_slots import dispatch_pinned

        _report_builds([f.result() for f in as_completed([pool.submit(_build, b) for b in builds])], log)
        call = lambda p, dev: (_run_one, p, dev, store_root, force, f"{labels[p.key]} on {dev}")  # noqa: E731
        for p, _dev, result in dispatch_pinned(pool, todo, devices, call):
            settle(p, *result)
    return out


def _run_when_built(pool, builds: list[BuildJob], todo: list[PlannedRun], needs: dict, submit, settle, log) -> None:
    """Each run is submitted once the builds it needs are done (a failed build counts as done: its
    runs fail with their own message), so on a cold cache a worker that finished the small backbones
    trains their rows while the other still pre-trains the big one."""
    every = {b.what for b in builds}
    done: set[str] = set()
    waiting, running = list(todo), {pool.submit(_build, b): b for b in builds}

    def release() -> None:
        for p in [p for p in waiting if (every if needs.get(p.key) is None else needs[p.key] & every) <= done]:
            waiting.remove(p)
            running[submit(p)] = p

    release()
    while running:
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for fut in finished:
            item = running.pop(fut)
            if isinstance(item, BuildJob):
                _report_builds([fut.result()], log)
                done.add(item.what)
            else:
                settle(item, *fut.result())
        release()


def _build_needs(todo: list[PlannedRun], device: str) -> dict[str, set[str] | None]:
    """Run key -> the build resources its own config asks for; None for a task that cannot say."""
    needs: dict[str, set[str] | None] = {}
    for p in todo:
        hook = get_task(p.task).prebuild
        ctx = make_context(p.profile, 0, device, Path("."))
        needs[p.key] = None if hook is None else {j.what for j in hook([p.config], ctx)}
    return needs


def _pool(jobs: int, modules: list[str]) -> ProcessPoolExecutor:
    ctx = multiprocessing.get_context("spawn")  # no fork: torch state must not be shared
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init,
                               initargs=(modules, os.getpid()))


def _prebuild_jobs(todo: list[PlannedRun], device: str) -> list[BuildJob]:
    """The tasks' shared build jobs for the runs to do, once each (by label)."""
    by_task: dict[tuple[str, str], list] = {}
    for p in todo:
        by_task.setdefault((p.task, p.profile), []).append(p.config)
    jobs: dict[str, BuildJob] = {}
    for (name, profile), cfgs in sorted(by_task.items()):
        hook = get_task(name).prebuild
        for job in [] if hook is None else hook(cfgs, make_context(profile, 0, device, Path("."))):
            jobs.setdefault(job.what, job)
    return list(jobs.values())


def _build(job: BuildJob, log=print) -> tuple[str, str, float]:
    """Run one build job; reports instead of raising (it may run in a worker process)."""
    t0 = time.time()
    try:
        job.fn(*job.args, log=log)
    except Exception as e:  # noqa: BLE001 - the runs that need it will fail with their own message
        return job.label, f"{type(e).__name__}: {e}", time.time() - t0
    return job.label, "", time.time() - t0


def _report_builds(results: list[tuple[str, str, float]], log=print) -> None:
    for label, error, seconds in results:
        log(f"built {label} in {seconds:.0f}s" if not error else f"building {label} FAILED: {error}")


def load_results(planned: list[PlannedRun], store_root: Path | None = None) -> dict[str, dict]:
    """key -> record for every planned run that has a result."""
    found = {}
    for p in planned:
        rec = RunStore(store_root or results_root(), p.profile).load(p.key)  # checked: VdiError on a bad shape
        if rec is not None:
            found[p.key] = rec
    return found
