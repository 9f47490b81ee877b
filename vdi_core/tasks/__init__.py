"""The tasks and their registry: name -> `Task` (config dataclass, run, fingerprint, prebuild).

A task is what runs one row of a table for one seed: `grounding` (Tables 2-6, tasks/grounding.py),
`probe` (Table 1, tasks/probe.py) and `word_weights` (Figure 1, tasks/word_weights.py). The
suite's core (spec, store, runner) only knows that a task has a config dataclass, a
`run(cfg, ctx) -> TaskResult`, a `fingerprint(cfg, ctx)` of its inputs and a `prebuild`; every
task module has that shape and ends with `TASK = Task(...)`. Everything model-specific lives
behind this line, imported only when a run executes: a task module imports no torch at the top,
so planning (`vdi render`, `vdi check`) stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..context import BuildJob, RunContext
from ..registry import Registry

__all__ = ["TASKS", "BuildJob", "RunContext", "Task", "TaskResult", "get_task", "register_task"]


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
    # built once (in parallel under --jobs); [] when all are cached. Asked for one config it names
    # what that run needs, so under --jobs a run starts once its own inputs are built. None: the
    # task builds nothing up front, and its runs wait for every build of the invocation.
    prebuild: Callable[[list, RunContext], list[BuildJob]] | None = None


TASKS: Registry[Task] = Registry("task", fix="add a module under vdi_core/tasks/ and register it here")
TASKS.register("grounding", "vdi_core.tasks.grounding:TASK")
TASKS.register("probe", "vdi_core.tasks.probe:TASK")
TASKS.register("word_weights", "vdi_core.tasks.word_weights:TASK")


def register_task(task: Task) -> Task:
    """Register a task defined outside this package (tests, plugins); a second task under the same
    name is an error."""
    TASKS.register(task.name, task)
    return task


def get_task(name: str) -> Task:
    return TASKS.get(name)
