"""Where a run stands, read from the store alone: no torch, so `vdi status` starts at once.

Three kinds of files under results/<profile>/ say it:
- `<key>.json`: the result, so the run is done.
- `jobs/<key>.json`: the Slurm job that runs (or ran) the key: job id, log paths, when submitted.
  Kept outside work/<key>/ because the run itself removes its work folder (on success, and on
  --force before it starts), while the job record must outlive both for status and re-submission.
- `plans/<table>.json`: the keys of the last `vdi run` of a table (planning a table imports the
  task, and a grounding task imports torch; status reads this instead).

A job's state comes from `squeue` (finished jobs stay visible there for the cluster's MinJobAge)
and from submitit's result pickle next to its logs.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .io import atomic_write_json
from .store import now_iso

ACTIVE = {"PENDING": "queued", "REQUEUED": "queued", "REQUEUE_HOLD": "queued", "REQUEUE_FED": "queued",
          "CONFIGURING": "running", "RUNNING": "running", "COMPLETING": "running", "SUSPENDED": "running",
          "STAGE_OUT": "running", "RESIZING": "running", "SIGNALING": "running"}
STATES = ("done", "running", "queued", "failed", "missing")


def job_path(store_dir: Path, key: str) -> Path:
    return Path(store_dir) / "jobs" / f"{key}.json"


def write_job(store_dir: Path, key: str, record: dict) -> None:
    atomic_write_json(job_path(store_dir, key), {"submitted": now_iso(), **record})


def read_job(store_dir: Path, key: str) -> dict | None:
    try:
        return json.loads(job_path(store_dir, key).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None  # a torn or missing record means "no job known": the key may be submitted again


def write_plan(store_dir: Path, table: str, runs: list[dict]) -> None:
    """runs: [{row, seed, key}] of one table, in plan order."""
    atomic_write_json(Path(store_dir) / "plans" / f"{table}.json", {"table": table, "runs": runs})


def read_plan(store_dir: Path, table: str) -> list[dict] | None:
    try:
        return json.loads((Path(store_dir) / "plans" / f"{table}.json").read_text(encoding="utf-8"))["runs"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        return None


def squeue_states(job_ids: list[str]) -> dict[str, str] | None:
    """job id ("12" or "12_3") -> Slurm state, for the jobs Slurm still knows; None without Slurm."""
    if not job_ids or shutil.which("squeue") is None:
        return None
    masters = sorted({j.split("_")[0] for j in job_ids})
    out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T", "-j", ",".join(masters)],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:  # squeue refuses the whole list when one id is unknown: ask one by one
        lines = []
        for m in masters:
            one = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T", "-j", m],
                                 capture_output=True, text=True, timeout=60)
            lines += one.stdout.splitlines() if one.returncode == 0 else []
    else:
        lines = out.stdout.splitlines()
    states = {}
    for line in lines:
        jid, _, state = line.strip().partition("|")
        if jid:
            states[jid] = state.split()[0] if state else "UNKNOWN"
    return states


def submitit_outcome(job: dict) -> tuple[str, str] | None:
    """("success", "") or ("error", last line of the traceback) from submitit's result pickle."""
    path = job.get("result_pickle")
    if not path or not Path(path).is_file():
        return None
    try:
        with open(path, "rb") as f:
            kind, value = pickle.load(f)  # our own job's pickle: ("success", str) or ("error", traceback)
    except Exception:  # noqa: BLE001 - a torn pickle (the job was killed while writing) says nothing
        return None
    if kind == "success":
        return "success", ""
    lines = [ln for ln in str(value).splitlines() if ln.strip()]
    return "error", lines[-1].strip() if lines else "error"


def stderr_tail(job: dict, n: int = 5) -> list[str]:
    path = job.get("stderr")
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
    except (OSError, TypeError):
        return []
    return [ln for ln in text.splitlines() if ln.strip()][-n:]


def lock_held(store_dir: Path, key: str) -> bool:
    """True while a process holds the key's run lock (vdi_core/locks.py): a local run in progress."""
    path = Path(store_dir) / "locks" / f"{key}.lock"
    if not path.is_file():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops the probe's lock if it got it
    return False


@dataclass
class RunState:
    key: str
    state: str  # one of STATES
    job_id: str = ""
    detail: str = ""  # a failure's error line, or why a key counts as missing
    log: str = ""  # stderr of a failed job
    wall_s: float | None = None  # measured wall time of a done run


def run_states(store_dir: Path, keys: list[str], slurm: dict[str, str] | None = None) -> dict[str, RunState]:
    """key -> RunState. `slurm` (job id -> state) is queried once for all keys when not given."""
    store_dir = Path(store_dir)
    jobs = {k: read_job(store_dir, k) for k in keys}
    if slurm is None:
        slurm = squeue_states([j["job_id"] for j in jobs.values() if j and j.get("job_id")]) or {}
    out = {}
    for key in keys:
        job = jobs[key] or {}
        jid = str(job.get("job_id", ""))
        result = store_dir / f"{key}.json"
        if result.is_file():
            out[key] = RunState(key, "done", jid, wall_s=_wall(result))
            continue
        state = slurm.get(jid)
        if state in ACTIVE:
            out[key] = RunState(key, ACTIVE[state], jid, detail=state.lower())
            continue
        if lock_held(store_dir, key):
            out[key] = RunState(key, "running", jid, detail="local" if not jid else "")
            continue
        if jid:  # a job that ended without a result: it raised, was cancelled, timed out or was lost
            outcome = submitit_outcome(job)
            if outcome and outcome[0] == "error":
                detail = outcome[1]
            elif state:
                detail = f"job ended {state} without a result"
            else:
                detail = "job ended without a result"
            out[key] = RunState(key, "failed", jid, detail=detail, log=str(job.get("stderr", "")))
            continue
        partial = (store_dir / "work" / key).is_dir()
        out[key] = RunState(key, "missing", detail="work folder kept: resumes" if partial else "")
    return out


def _wall(result: Path) -> float | None:
    try:
        return float(json.loads(result.read_text(encoding="utf-8"))["provenance"]["wall_time_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_plans(store_root: Path, planned) -> None:
    """Write plans/<table>.json for each table of a `vdi run` (what `vdi status` reads)."""
    by_table: dict[tuple[str, str], list[dict]] = {}
    for p in planned:
        by_table.setdefault((p.profile, p.table), []).append({"row": p.row, "seed": p.seed, "key": p.key})
    for (profile, table), runs in by_table.items():
        try:
            write_plan(Path(store_root) / profile, table, runs)
        except OSError:  # an unwritable store: the run itself reports it, in its own words
            pass
