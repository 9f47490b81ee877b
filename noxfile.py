"""nox sessions for vdi-repro.

Every session runs in ONE shared project environment, `.venv/` (torch alone is ~6 GB; a venv per
session would be absurd). The first session creates it and installs the project with its dev
extra; later sessions reuse it and reinstall only when pyproject.toml changes.

    nox -s table3                         # Table 3 on the mini profile (the embedded default)
    nox -s table3 -- --profile paper --seeds 3 --device cuda
    nox -s tables                         # every table, Figure 1, the report (3 seeds; premise 5): ~2 h cold
    nox -s tables -- --seeds 1            # a first look: every table at 1 seed, ~32 min cold on 2 cores
    nox -s tests                          # the test suite (what CI runs)
    nox -s bench                          # benchmarks (pytest-benchmark)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".vdi-installed"

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests"]
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded behind the user's back
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _ensure_env(session: nox.Session) -> None:
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text().strip() == want and (BIN / "vdi").exists():
        return
    if not (BIN / "python").exists():
        session.log(f"creating the shared environment {VENV} (once; torch is large)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    session.run(str(BIN / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip", external=True)
    session.run(str(BIN / "python"), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]", external=True)
    STAMP.write_text(want)


def _vdi(session: nox.Session, *args: str) -> None:
    _ensure_env(session)
    session.run(str(BIN / "vdi"), *args, *session.posargs, external=True)


def _table_session(name: str):
    @nox.session(name=name, python=False)
    def _run(session: nox.Session) -> None:
        _vdi(session, "run", name)

    _run.__doc__ = f"Run and render {name} (args after -- go to `vdi run`: --profile, --seeds, --device, --rows)."
    return _run


# One session per spec: a new experiments/<id>.toml gets `nox -s <id>` without editing this file.
# (Files starting with "_" are includes such as _grounding.toml, not tables.)
for _name in sorted(p.stem for p in (ROOT / "experiments").glob("*.toml") if not p.name.startswith("_")):
    globals()[f"session_{_name}"] = _table_session(_name)


@nox.session(python=False)
def tables(session: nox.Session) -> None:
    """Run every table and Figure 1, then write tables/<profile>/report.md."""
    _vdi(session, "run", "all", "--report")


@nox.session(python=False)
def report(session: nox.Session) -> None:
    """Render tables/<profile>/report.md from stored results."""
    _vdi(session, "report")


@nox.session(python=False)
def check(session: nox.Session) -> None:
    """Regression check: paper tolerances, mini golden file, claims, stale tables."""
    _vdi(session, "check")


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The test suite (CI runs this). pytest exits 5 when it collects nothing: that fails too."""
    _ensure_env(session)
    session.run(str(BIN / "python"), "-m", "pytest", "-m", "not bench", *session.posargs, external=True)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Speed and memory benchmarks (pytest-benchmark); compare mins, 10-15 % spread on 2 cores."""
    _ensure_env(session)
    session.run(str(BIN / "python"), "-m", "pytest", "tests/bench", "-m", "bench", "--benchmark-enable",
                "--benchmark-only", "--benchmark-columns=min,mean,stddev,rounds", *session.posargs, external=True)


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff over the package, tests and this file."""
    _ensure_env(session)
    session.run(str(BIN / "python"), "-m", "ruff", "check", "vdi_core", "tests", "noxfile.py", external=True)
