"""The task registry: name -> (config dataclass, run function).

A task is what runs one row of a table for one seed: `grounding` (Tables 2-6), `probe`
(Table 1) and `word_weights` (Figure 1). The suite's core (spec, store, runner) only knows
that a task has a config dataclass and a `run(cfg, ctx) -> TaskResult`; everything
model-specific lives behind this line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import VdiError, did_you_mean


@dataclass
class RunContext:
    profile: str  # "mini" | "paper"
    seed: int
    device: str  # "cpu" | "cuda" | "cuda:0" ...
    work_dir: Path  # per-run scratch (checkpoints for --resume); removed after success
    cache_dir: Path  # shared cache of generated data, weights, features
    # Files a run produces besides its numbers (Figure 1's PNG); kept with the result, and copied
    # next to the rendered table when the spec lists them under `outputs`.
    artifact_dir: Path | None = None
    progress: Callable[[str, int, int], None] = lambda stage, i, n: None  # e.g. ("epoch", 3, 18)
    log: Callable[[str], None] = print


@dataclass
class TaskResult:
    metrics: dict[str, float]  # the numbers a table shows; keys match spec metric ids
    curves: dict[str, list[float]] = field(default_factory=dict)  # per-epoch series
    extra: dict[str, Any] = field(default_factory=dict)  # counts, skips, best epoch, artefact paths


@dataclass(frozen=True)
class Task:
    name: str
    config_cls: type
    run: Callable[[Any, RunContext], TaskResult]
    # Cheap identity of the inputs (data, features, weights) for a resolved config, computed
    # before running so it can enter the run key.
    fingerprint: Callable[[Any, RunContext], dict[str, str]] = lambda cfg, ctx: {}
    version: str = "1"  # bump when this task's numbers change
    # (configs of the runs about to execute, ctx) -> [BuildJob]: generated inputs those runs share,
    # built once (in parallel under --jobs) before any of them starts; [] when all are cached.
    prebuild: Callable[[list, RunContext], list[BuildJob]] = lambda cfgs, ctx: []


@dataclass(frozen=True)
class BuildJob:
    """One independent piece of shared input. `fn(*args, log=...)` must be a module-level
    function (it may run in a spawned worker) and must cache what it builds."""

    label: str
    fn: Callable
    args: tuple = ()


_TASKS: dict[str, Task] = {}

# Modules that register tasks on import. Imported lazily so `vdi refs` does not load torch.
_TASK_MODULES = {
    "grounding": "vdi_core.grounding.task",
    "probe": "vdi_core.probe",
    "word_weights": "vdi_core.word_weights",
}


def register_task(task: Task) -> Task:
    if task.name in _TASKS and _TASKS[task.name] is not task:
        raise VdiError(f"task '{task.name}' is registered twice")
    _TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in _TASKS and name in _TASK_MODULES:
        importlib.import_module(_TASK_MODULES[name])
    if name not in _TASKS:
        raise VdiError(f"unknown task '{name}'{did_you_mean(name, set(_TASKS) | set(_TASK_MODULES))}")
    return _TASKS[name]


def unregister_task(name: str) -> None:
    """For tests that register throwaway tasks."""
    _TASKS.pop(name, None)
