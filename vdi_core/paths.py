"""The suite's root folders, resolved in one place.

Each root is a folder of this checkout unless an environment variable points elsewhere (a lab's
shared store on a cluster filesystem, the tests' temporary folders):

    results      $VDI_RESULTS      <repo>/results       run store: <profile>/<key>.json, work/, locks/
    cache        $VDI_CACHE        <repo>/.cache        the mini world, micro-models, features
    tables       $VDI_TABLES       <repo>/tables        rendered <profile>/<table>.md
    experiments  $VDI_EXPERIMENTS  <repo>/experiments   the table specs
    data         $VDI_DATA         <repo>/data          the paper profile's files (data/manifest.py)

A variable that names a file rather than a folder is refused with one line saying which.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import VdiError

REPO_ROOT = Path(__file__).resolve().parent.parent


def env_dir(var: str, default: Path, check: bool = True) -> Path:
    """A root folder from the environment, else `default`; refused if it is a file. `check=False`
    for defaults computed while the CLI builds its parser (the command checks when it runs)."""
    path = Path(os.environ.get(var) or default).expanduser()
    if check and path.exists() and not path.is_dir():
        raise VdiError(f"{var} points to {path}, which is a file, not a folder; set {var} to a folder")
    return path


def results_root() -> Path:
    return env_dir("VDI_RESULTS", REPO_ROOT / "results")


def cache_root(check: bool = True) -> Path:
    return env_dir("VDI_CACHE", REPO_ROOT / ".cache", check)


def tables_root() -> Path:
    return env_dir("VDI_TABLES", REPO_ROOT / "tables")


def experiments_root() -> Path:
    return env_dir("VDI_EXPERIMENTS", REPO_ROOT / "experiments")


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """--root / data_cfg.root, else $VDI_DATA, else <repo>/data."""
    if explicit:
        return Path(explicit).expanduser()
    return env_dir("VDI_DATA", REPO_ROOT / "data", check=False)
