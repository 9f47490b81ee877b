"""A throwaway task for testing the suite's core without any model: its metrics are a known
function of the config and seed, so every rendered number can be checked by hand."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from vdi_core.errors import VdiError
from vdi_core.tasks import Task, TaskResult, register_task

CALLS: list[tuple] = []  # (a, b, seed) of every run, to count how often rows really ran


@dataclass(frozen=True)
class Knobs:
    mode: str = "plain"
    scale: float = field(default=1.0, metadata={"assumption": "A5"})

    def __post_init__(self):
        if self.mode not in ("plain", "fail", "boom"):
            raise VdiError(f"knobs.mode must be plain, fail or boom, got '{self.mode}'")


@dataclass(frozen=True)
class ToyConfig:
    a: float = 1.0
    b: int = 2
    tags: tuple[str, ...] = ()
    knobs: Knobs = field(default_factory=Knobs)


def run(cfg: ToyConfig, ctx) -> TaskResult:
    CALLS.append((cfg.a, cfg.b, ctx.seed))
    # For tests with real processes (tests/test_faults.py): count runs across processes in a file
    # and make a run slow enough that two processes overlap. Not config: the keys stay the same.
    if os.environ.get("VDI_TOY_CALLS"):
        with open(os.environ["VDI_TOY_CALLS"], "a") as f:
            f.write(f"{cfg.a} {cfg.b} {ctx.seed} {os.getpid()}\n")
    time.sleep(float(os.environ.get("VDI_TOY_SLEEP", "0")))
    if cfg.knobs.mode == "fail":
        raise VdiError("toy row asked to fail")
    if cfg.knobs.mode == "boom":
        raise RuntimeError("unexpected crash")
    x = cfg.knobs.scale * (10 * cfg.a + cfg.b) + ctx.seed  # seeds 0,1,2 -> mean +1, std 1
    return TaskResult(metrics={"score": x, "other": 100 - x}, curves={"loss": [3.0, 2.0, 1.0]})


TOY = register_task(Task("toy", ToyConfig, run, fingerprint=lambda cfg, ctx: {"data": "toy-v1"}))

SPEC = '''
id = "{id}"
title = "Toy table {id}"
version = 1
task = "toy"
settings_columns = [{{ id = "a", label = "a" }}]

[profiles.mini]
seeds = {seeds}

[[metrics]]
id = "score"
label = "Score"
tolerance = 0.5

[[metrics]]
id = "other"
label = "Other"
higher_is_better = false

[[rows]]
id = "low"
settings = {{ a = 1 }}
overrides = {{ a = 1.0 }}
reference = {{ score = 12.0, other = 88.0 }}

[[rows]]
id = "high"
settings = {{ a = 2 }}
overrides = {{ a = 2.0 }}
reference = {{ score = 22.0, other = 78.0 }}
bold = ["score"]

[[claims]]
id = "high_beats_low"
text = "high beats low on score"
kind = "greater"
a = "high"
b = "low"
metrics = ["score"]
'''


def write_spec(directory, id="toy1", seeds=3, extra="") -> Path:
    path = Path(directory) / f"{id}.toml"
    path.write_text(SPEC.format(id=id, seeds=seeds) + extra)
    return path


# --- a task with shared inputs: runs need `built-b<b>` in the cache, made by a prebuild job ------

def make_input(cache_dir: str, b: int, log=print) -> None:
    """A build job: counts itself in a file, so tests can see it ran exactly once."""
    path = Path(cache_dir) / f"built-b{b}"
    path.parent.mkdir(parents=True, exist_ok=True)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))


def prebuild(cfgs, ctx):
    from vdi_core.tasks import BuildJob

    needed = sorted({c.b for c in cfgs if not (Path(ctx.cache_dir) / f"built-b{c.b}").exists()})
    return [BuildJob(f"toy input b={b}", make_input, (str(ctx.cache_dir), b)) for b in needed]


def run_built(cfg: ToyConfig, ctx) -> TaskResult:
    if not (Path(ctx.cache_dir) / f"built-b{cfg.b}").exists():
        raise VdiError(f"toy input b={cfg.b} was not built before the run")
    return run(cfg, ctx)


TOY_BUILT = register_task(Task("toy_built", ToyConfig, run_built, fingerprint=lambda cfg, ctx: {"data": "toy-v1"},
                               prebuild=prebuild))


# --- a task with epochs that checkpoints and resumes, like the grounding trainer ------------------

@dataclass(frozen=True)
class EpochConfig:
    a: float = 1.0
    epochs: int = 4
    sleep_s: float = 0.0  # per epoch, so a test can kill a run in the middle


def run_epochs(cfg: EpochConfig, ctx) -> TaskResult:
    """score = sum over epochs e of a*(e+1) + seed; the state after each epoch goes to
    work_dir/ckpt.json, and a restarted run continues from it. Every start appends
    "<key> start <epoch>" to cache_dir/starts.log (the work folder is named after the key)."""
    import json
    import os
    import time

    ckpt = Path(ctx.work_dir) / "ckpt.json"
    state = json.loads(ckpt.read_text()) if ckpt.exists() else {"epoch": 0, "score": 0.0}
    start = state["epoch"]
    Path(ctx.cache_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(ctx.cache_dir) / "starts.log", "a") as f:
        f.write(f"{Path(ctx.work_dir).name} start {start}\n")
    for e in range(start, cfg.epochs):
        time.sleep(cfg.sleep_s)
        state = {"epoch": e + 1, "score": state["score"] + cfg.a * (e + 1) + ctx.seed}
        tmp = ckpt.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, ckpt)
        ctx.progress("epoch", e + 1, cfg.epochs)
    return TaskResult(metrics={"score": state["score"], "other": 100 - state["score"]},
                      extra={"resumed_from": start})


TOY_EPOCHS = register_task(Task("toy_epochs", EpochConfig, run_epochs, fingerprint=lambda cfg, ctx: {"data": "toy-v1"}))
