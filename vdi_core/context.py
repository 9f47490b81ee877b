"""What a run is given besides its config: profile, seed, device, folders, progress and log hooks.

A low-layer type: the runner builds it, tasks read it, and the grounding trainer and the data
sources take it without importing the runner or the task registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


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


@dataclass(frozen=True)
class BuildJob:
    """One independent piece of shared input. `fn(*args, log=...)` must be a module-level
    function (it may run in a spawned worker) and must cache what it builds."""

    label: str
    fn: Callable
    args: tuple = ()
    # What it builds, when several runs' jobs build one thing (a backbone asked for other splits):
    # runs wait for the job of their resource only (runner.execute); "" = the label.
    resource: str = ""

    @property
    def what(self) -> str:
        return self.resource or self.label
