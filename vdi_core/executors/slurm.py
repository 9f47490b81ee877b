"""`vdi run --executor slurm`: every planned run the store lacks, as ONE submitit job array.

- Shared inputs (a mini backbone: the tasks' prebuild jobs) are submitted first, one job each, and
  the array depends on them (`afterok`).
- Each array task calls runner._run_one, the function the local pool calls, so a Slurm run saves the
  same record, under the same per-key lock, as a local one.
- The job id and log paths of each key go to results/<profile>/jobs/<key>.json (vdi_core/jobs.py).
  A key whose job is queued or running is not submitted again; one that failed or vanished is.
  Submissions hold one lock per store, so two users submitting overlapping tables at once submit
  each key once.
- A job that hits its time limit or is preempted is requeued by submitit (`checkpoint`) and resumes
  from the trainer's last epoch checkpoint in work/<key>/, as a killed local run does.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ..errors import VdiError, did_you_mean, read_toml
from ..jobs import run_states, write_job
from ..locks import key_lock
from ..store import RunStore


@dataclass(frozen=True)
class SlurmOptions:
    partition: str = ""
    gpus_per_run: int = 0
    cpus_per_run: int = 1
    mem_gb: float = 0  # 0: the partition's default
    time_min: int = 60
    account: str = ""
    qos: str = ""
    array_parallelism: int = 256
    extra_sbatch: tuple[str, ...] = field(default=())  # e.g. "--constraint=a100"
    max_requeues: int = 3  # time-outs / preemptions a run may be requeued after


def default_config_path() -> Path:
    env = os.environ.get("VDI_CONFIG")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "vdi" / "config.toml"


def load_options(config: Path | None, cli: dict) -> SlurmOptions:
    """The [executor.slurm] table of the user config (if any), then the CLI flags that were given."""
    opts = SlurmOptions()
    path = Path(config) if config else default_config_path()
    if config or os.environ.get("VDI_CONFIG") or path.is_file():  # a named file must exist; the default need not
        data = read_toml(path, "the vdi config file", "pass an existing file to --slurm-config or unset VDI_CONFIG")
        for key in data:
            if key != "executor":
                raise VdiError(f"{path}: unknown table or key '{key}'{did_you_mean(key, ['executor'])}")
        executor = data.get("executor", {})
        for key in executor:
            if key != "slurm":
                raise VdiError(f"{path}: unknown table [executor.{key}]{did_you_mean(key, ['slurm'])}")
        opts = _apply(opts, executor.get("slurm", {}), f"{path} [executor.slurm]")
    return _apply(opts, {k: v for k, v in cli.items() if v is not None}, "the command line")


def _apply(opts: SlurmOptions, values: dict, where: str) -> SlurmOptions:
    types = {f.name: f.type for f in fields(SlurmOptions)}
    changes = {}
    for key, value in values.items():
        if key not in types:
            raise VdiError(f"{where}: unknown Slurm option '{key}'{did_you_mean(key, types)}")
        kind = types[key]
        if kind == "str" and isinstance(value, str):
            changes[key] = value
        elif kind == "int" and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            changes[key] = value
        elif kind == "float" and isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            changes[key] = float(value)
        elif key == "extra_sbatch" and isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            changes[key] = tuple(value)
        else:
            want = {"str": "a string", "int": "a whole number >= 0", "float": "a number >= 0"}.get(
                kind, "a list of strings like \"--constraint=a100\"")
            raise VdiError(f"{where}: Slurm option '{key}' must be {want}, got {value!r}")
    if changes.get("array_parallelism", 1) == 0 or changes.get("time_min", 1) == 0:
        raise VdiError(f"{where}: array_parallelism and time_min must be at least 1")
    return replace(opts, **changes)


def sbatch_parameters(extra: tuple[str, ...]) -> dict:
    """["--constraint=a100", "--exclusive"] -> {"constraint": "a100", "exclusive": True}."""
    params = {}
    for line in extra:
        text = line.strip().removeprefix("#SBATCH").strip()
        if not text.startswith("--") or len(text) < 3:
            raise VdiError(f"extra sbatch line {line!r}: write it as \"--option=value\" or \"--flag\"")
        name, sep, value = text[2:].partition("=")
        if not sep and " " in name:
            name, value = name.split(None, 1)
            sep = "="
        params[name.strip()] = value.strip() if sep else True
    return params


def make_executor(folder: Path, opts: SlurmOptions):
    import submitit

    # the options are checked before submitit's executor, which needs a cluster (srun on PATH)
    params = {"time": opts.time_min, "cpus_per_task": opts.cpus_per_run, "array_parallelism": opts.array_parallelism,
              "additional_parameters": sbatch_parameters(opts.extra_sbatch),
              # Slurm warns the job this long before its time limit; submitit then checkpoints and requeues.
              "signal_delay_s": min(90, opts.time_min * 60 // 4)}
    if opts.partition:
        params["partition"] = opts.partition
    if opts.gpus_per_run:
        params["gpus_per_node"] = opts.gpus_per_run
    if opts.mem_gb:
        params["mem"] = f"{int(opts.mem_gb * 1024)}MB"
    if opts.account:
        params["account"] = opts.account
    if opts.qos:
        params["qos"] = opts.qos
    ex = submitit.SlurmExecutor(folder=folder, max_num_timeout=opts.max_requeues)
    ex.update_parameters(**params)
    return ex


class RunJob:
    """One array task: runs one key through runner._run_one. Checkpointable in submitit's sense (it
    has a `checkpoint` method, as submitit.helpers.Checkpointable does; duck-typed so that importing
    this module does not import submitit): on a time-out or a preemption submitit calls
    `checkpoint` and requeues; the rerun resumes from work/<key>/."""

    def __init__(self, p, device: str, store_root: str, cache_root: str, force: bool, label: str):
        self.p, self.device, self.store_root, self.cache_root = p, device, store_root, cache_root
        self.force, self.label = force, label

    def __call__(self) -> str:
        os.environ["VDI_RESULTS"], os.environ["VDI_CACHE"] = self.store_root, self.cache_root
        from .. import runner

        status, message = runner._run_one(self.p, self.device, Path(self.store_root), self.force, self.label,
                                          log=lambda s: print(s, flush=True))
        if status not in ("ran", "cached"):
            raise RunFailed(message)  # the job ends FAILED; `vdi status` shows this line
        return status

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        # A requeued run resumes: never --force again, that would throw the epoch checkpoints away.
        return DelayedSubmission(RunJob(self.p, self.device, self.store_root, self.cache_root, False, self.label))


class RunFailed(RuntimeError):
    pass


def _build_job(job, store_root: str, cache_root: str):
    os.environ["VDI_RESULTS"], os.environ["VDI_CACHE"] = store_root, cache_root
    from .. import runner

    label, error, seconds = runner._build(job, log=lambda s: print(s, flush=True))
    if error:
        raise RunFailed(f"building {label} failed: {error}")
    return seconds


@dataclass
class Submission:
    submitted: list[str]  # keys
    cached: list[str]
    active: list[str]  # keys already queued or running: not submitted again
    array_id: str = ""
    build_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0


def submit(planned, device: str, force: bool, opts: SlurmOptions, log=print) -> Submission:
    with sbatch_errors():
        return _submit(planned, device, force, opts, log)


@contextlib.contextmanager
def sbatch_errors():
    """No sbatch or srun on PATH, or sbatch refusing a submission, is one line (also `vdi features extract`)."""
    import shutil

    # submitit's SlurmExecutor refuses to start (a bare RuntimeError) without srun on PATH
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if missing:
        raise VdiError(f"--executor slurm needs Slurm's {' and '.join(missing)} on PATH; run it on a login node of "
                       "the cluster")
    from submitit.core.utils import FailedJobError

    try:
        yield
    except FailedJobError as e:  # sbatch refused: bad partition/account, no controller reachable, ...
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        raise VdiError(f"sbatch refused the submission: {lines[-1] if lines else e}; check the Slurm options "
                       f"(--partition, --account, --qos, [executor.slurm]) and SLURM_CONF") from None


def _submit(planned, device: str, force: bool, opts: SlurmOptions, log=print) -> Submission:
    from ..paths import cache_root, results_root
    from ..runner import _prebuild_jobs

    t0 = time.time()
    store_root = results_root().resolve()
    profiles = {p.profile for p in planned}
    if len(profiles) != 1:
        raise VdiError("one `vdi run --executor slurm` submits one profile at a time")
    store = RunStore(store_root, profiles.pop())
    unique = {}
    for p in planned:
        unique.setdefault(p.key, p)
    with key_lock(store.dir / "jobs" / ".submit.lock"):  # check-then-submit, one submitter at a time
        states = run_states(store.dir, list(unique))
        out = Submission([], [], [])
        todo = []
        for key, p in unique.items():
            s = states[key].state
            if s in ("queued", "running"):
                out.active.append(key)
            elif s == "done" and not force:
                out.cached.append(key)
            else:
                todo.append(p)
        if not todo:
            out.seconds = time.time() - t0
            return out
        folder = store.dir / "slurm" / "%j"
        ex = make_executor(folder, opts)
        builds = _prebuild_jobs(todo, device)
        env = (str(store_root), str(cache_root().resolve()))
        for b in builds:
            ex.update_parameters(job_name=f"vdi-build-{_slug(b.label)}")
            job = ex.submit(_build_job, b, *env)
            out.build_ids.append(str(job.job_id))
            log(f"submitted {b.label}: job {job.job_id}")
        ex.update_parameters(job_name="vdi-run", dependency=f"afterok:{':'.join(out.build_ids)}" if builds else None)
        with ex.batch():
            jobs = [ex.submit(RunJob(p, device, *env, force, f"{p.table}:{p.row} seed {p.seed}")) for p in todo]
        for p, job in zip(todo, jobs):
            write_job(store.dir, p.key, {
                "executor": "slurm", "job_id": str(job.job_id), "table": p.table, "row": p.row, "seed": p.seed,
                "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr),
                "result_pickle": str(job.paths.result_pickle), "depends_on": out.build_ids,
            })
            out.submitted.append(p.key)
        out.array_id = str(jobs[0].job_id).split("_")[0]
    out.seconds = time.time() - t0
    log(f"submitted {len(todo)} run(s) as job array {out.array_id} "
        f"(logs: {store.dir / 'slurm'}; `vdi status` shows their progress)")
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")[:40]
