"""Slow: re-run a mini table from scratch and check it against the committed golden file.

This is `vdi run table4 && vdi check table4` in a scratch results/tables folder: the numbers must
match tables/mini/golden.json (same seeds, same code, same kind of CPU => the same numbers) and the
table's claims must still hold where they held. On another kind of CPU than the golden file's, `vdi
check` compares the claims only, and says so. It builds the vit-joint micro-CLIP into the default cache
on first use (shared with test_mini_slow.py)."""

import json
import shutil

import pytest

from vdi_core.cli import main

from conftest import GOLDEN, same_cpu_as_golden

pytestmark = pytest.mark.slow


def test_table4_reproduces_the_golden_file(tmp_path, monkeypatch, capsys):
    if not GOLDEN.is_file() or "table4" not in json.loads(GOLDEN.read_text())["tables"]:
        pytest.fail(f"{GOLDEN} has no table4 entry: run `vdi run all` and `vdi check --update-golden`")
    tables = tmp_path / "tables"
    (tables / "mini").mkdir(parents=True)
    shutil.copy(GOLDEN, tables / "mini" / "golden.json")
    monkeypatch.setenv("VDI_TABLES", str(tables))
    monkeypatch.setenv("VDI_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("VDI_CACHE", raising=False)  # the default cache, reused across test runs
    assert main(["run", "table4"]) == 0
    capsys.readouterr()
    assert main(["check", "table4"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "vdi check (mini): OK" in out
    if same_cpu_as_golden():
        assert "not compared" not in out
    else:
        assert "cells are not compared across kinds of CPU" in out
