"""Benchmark: how long `vdi --help` and `vdi list` take to start (a fresh interpreter each round).
Target: `vdi --help` <= 0.5 s warm on the project's 2-core machine (it imports no torch, open_clip
or spaCy; tests/test_cli_startup.py pins that, this file measures the time).

Run: nox -s bench  (or .venv/bin/pytest tests/bench/test_bench_cli.py -m bench --benchmark-enable -s)
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.bench


def _vdi(*args):
    subprocess.run([sys.executable, "-m", "vdi_core.cli", *args], cwd=REPO, check=True, capture_output=True)


@pytest.mark.parametrize("args", [("--help",), ("list",)], ids=lambda a: " ".join(a))
def test_cli_start(benchmark, args):
    _vdi(*args)  # warm the file cache
    benchmark.pedantic(_vdi, args=args, rounds=10, iterations=1)
    assert benchmark.stats.stats.min <= 0.5, f"vdi {' '.join(args)} took {benchmark.stats.stats.min:.2f} s at best"
