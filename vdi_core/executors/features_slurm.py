"""`vdi features extract --executor slurm --shards N`: the shards as ONE submitit job array, then
one finishing job that depends on it (`afterok`) and writes features.json over all videos.

- Only shards with a video still missing are submitted, and not those whose job is queued or
  running (their job ids are in <out>/.vdi-slurm/jobs.json, logs in <out>/.vdi-slurm/<job id>/).
- A shard job that hits its time limit or is preempted is requeued by submitit (`checkpoint`) and
  skips the videos it already wrote: extraction resumes per video.
- The finishing job refuses to write features.json while a video is missing, and runs on CPU with
  no GPU: it only hashes the stored arrays (features/shards.py says why shards write none).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import VdiError
from ..io import atomic_write_json
from ..locks import key_lock

STATE_DIR = ".vdi-slurm"


@dataclass
class ExtractJob:
    """One array task (a shard) or the finishing job (finish=True, all videos)."""

    videos: list[str]
    out: str
    spec: object  # ModelSpec
    settings: dict  # fps, patch_frames, batch_size, device
    finish: bool = False

    def __call__(self) -> str:
        from ..features.extract import extract_features
        from ..features.shards import missing_videos

        paths = [Path(v) for v in self.videos]
        if self.finish:
            missing = missing_videos(paths, Path(self.out))
            if missing:
                raise VdiError(f"{len(missing)} video(s) have no features after all shards ended "
                               f"(first: {missing[0].stem}); rerun the command to extract them")
        report = extract_features(paths, Path(self.out), self.spec, **self.settings, progress=False,
                                  log=lambda s: print(s, flush=True), write_fingerprint=self.finish)
        return report.fingerprint or f"{len(report.extracted)} extracted, {len(report.resumed)} already done"

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self)  # requeued: the rerun skips the videos already written


def _read_record(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}  # no record: no job of ours is known to be active
    return data if isinstance(data, dict) else {}


def _active(ids: list[str]) -> set[str]:
    from ..jobs import ACTIVE, squeue_states

    states = squeue_states(ids) or {}
    return {j for j in ids if states.get(j) in ACTIVE}


def submit_shards(videos: list[Path], out: Path, spec, settings: dict, n: int, opts, log=print) -> dict:
    """Submit what is missing; returns the record written to <out>/.vdi-slurm/jobs.json."""
    from ..features.shards import fingerprint_complete, missing_videos, shard_videos
    from .slurm import make_executor, sbatch_errors, sbatch_parameters

    with sbatch_errors():
        out = Path(out).resolve()
        state = out / STATE_DIR
        state.mkdir(parents=True, exist_ok=True)
        with key_lock(state / "submit.lock"):  # check-then-submit, one submitter at a time
            old = _read_record(state / "jobs.json")
            old_shards = {int(k): j for k, j in old.get("shards", {}).items()} if old.get("n") == n else {}
            active = _active([*old_shards.values(), *([old["finish"]] if old.get("finish") else [])])
            if old.get("n") not in (None, n) and active:
                raise VdiError(f"jobs {', '.join(sorted(active))} of an earlier submission with --shards {old['n']} "
                               f"are queued or running; wait for them (or scancel them) before using --shards {n}")
            todo = [k for k in range(n) if missing_videos(shard_videos(videos, n, k), out)
                    and old_shards.get(k) not in active]
            running = [old_shards[k] for k in range(n) if old_shards.get(k) in active]
            if not todo and (old.get("finish") in active or fingerprint_complete(videos, out)):
                log("nothing to submit: " + (f"{len(running)} shard(s) and the finishing job queued or running"
                                             if old.get("finish") in active
                                             else f"all {len(videos)} videos extracted, features.json written"))
                return old
            t0 = time.time()
            # The jobs run on other nodes, maybe in another folder: every path they read is absolute.
            spec = replace(spec, **{f: str(Path(getattr(spec, f)).expanduser().resolve())
                                    for f in ("config_path", "weights") if getattr(spec, f)})
            ex = make_executor(state / "%j", opts)
            ex.update_parameters(job_name="vdi-features")
            strs = [str(v.resolve()) for v in videos]
            with ex.batch():
                jobs = [ex.submit(ExtractJob([str(v.resolve()) for v in shard_videos(videos, n, k)], str(out),
                                             spec, settings)) for k in todo]
            new = {k: str(j.job_id) for k, j in zip(todo, jobs)}
            deps = sorted({j.split("_")[0] for j in new.values()}) + running
            if old.get("finish") in active:  # superseded by the finishing job submitted now
                subprocess.run(["scancel", old["finish"]], capture_output=True, timeout=60)
            fin_ex = make_executor(state / "%j", replace(opts, gpus_per_run=0))
            # A failed shard would leave an `afterok` job pending forever: Slurm cancels it instead.
            fin_ex.update_parameters(job_name="vdi-features-finish",
                                     dependency=f"afterok:{':'.join(deps)}" if deps else None,
                                     additional_parameters={**sbatch_parameters(opts.extra_sbatch),
                                                            "kill_on_invalid_dep": "yes"})
            fin = fin_ex.submit(ExtractJob(strs, str(out), spec, {**settings, "device": "cpu"}, finish=True))
            record = {"n": n, "shards": {str(k): j for k, j in {**old_shards, **new}.items()},
                      "finish": str(fin.job_id), "finish_result": str(fin.paths.result_pickle),
                      "finish_stderr": str(fin.paths.stderr), "submitted_s": round(time.time() - t0, 3)}
            atomic_write_json(state / "jobs.json", record)
    log(f"{len(todo)} of {n} shard(s) submitted" + (f" as job array {deps[0]}" if new else "") + ", "
        f"{len(running)} already queued or running; finishing job {fin.job_id} writes features.json "
        f"(logs: {state})")
    return record


def wait_for(record: dict, videos: list[Path], out: Path, timeout: float = 0, poll: float = 2.0) -> list[str]:
    """Follow the jobs until none is queued or running; returns failure lines (empty: all done)."""
    from ..features.shards import fingerprint_complete
    from ..jobs import stderr_tail, submitit_outcome

    ids = [*record.get("shards", {}).values(), *([record["finish"]] if record.get("finish") else [])]
    deadline = time.time() + timeout if timeout else None
    while _active(ids):
        if deadline and time.time() > deadline:
            raise VdiError(f"--wait-timeout {timeout:g}s passed with feature jobs still queued or running; "
                           f"they go on: rerun the command later to see where they stand")
        time.sleep(poll)
    if fingerprint_complete(videos, out):
        return []
    outcome = submitit_outcome({"result_pickle": record.get("finish_result")})
    why = outcome[1] if outcome else "the finishing job did not run (a shard failed: see the logs)"
    tail = stderr_tail({"stderr": record.get("finish_stderr")}, 3)
    return [f"features.json not written: {why} [logs {Path(out).resolve() / STATE_DIR}]", *tail]
