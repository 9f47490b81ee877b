"""The `vdi` command end to end on a toy task: run -> table -> report -> golden -> check."""

import json

import pytest

from vdi_core.cli import main

import toytask
from toytask import write_spec


@pytest.fixture
def toy_env(tmp_path, isolated_store, monkeypatch):
    exp = tmp_path / "experiments"
    exp.mkdir()
    write_spec(exp, id="toy1", seeds=2)
    write_spec(exp, id="toy2", seeds=2)
    monkeypatch.setenv("VDI_EXPERIMENTS", str(exp))
    monkeypatch.setenv("VDI_TABLES", str(tmp_path / "tables"))
    toytask.CALLS.clear()
    return tmp_path


def test_run_render_report_check(toy_env, capsys):
    tables = toy_env / "tables" / "mini"
    # Before any run: the table renders with dashes, never numbers.
    assert main(["render", "toy1"]) == 0
    assert (tables / "toy1.md").read_text().count("—") >= 4
    assert main(["run", "all", "--report", "--jobs", "1"]) == 0
    assert len(toytask.CALLS) == 4  # 2 rows x 2 seeds; toy2 reuses toy1's runs
    text = (tables / "toy1.md").read_text()
    assert "12.50 ± 0.71" in text and "- ✓ high beats low on score" in text
    assert (tables / "report.md").read_text().count("## Toy table") == 2
    assert main(["check", "--update-golden"]) == 0
    golden = json.loads((tables / "golden.json").read_text())
    assert set(golden["tables"]) == {"toy1", "toy2"}
    capsys.readouterr()
    assert main(["check"]) == 0
    assert "vdi check (mini): OK" in capsys.readouterr().out


def test_run_rows_and_seeds_flags(toy_env):
    assert main(["run", "toy1", "--rows", "high", "--seeds", "1", "--jobs", "1"]) == 0
    assert toytask.CALLS == [(2.0, 2, 0)]


def test_bad_input_is_one_line_exit_2(toy_env, capsys):
    assert main(["run", "toy9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vdi run: error: unknown table 'toy9'") and "\n" not in err
    assert main(["run", "toy1", "--rows", "hgh"]) == 2
    assert "did you mean 'high'" in capsys.readouterr().err


def test_failed_row_exit_code(toy_env, capsys):
    spec = toy_env / "experiments" / "toy1.toml"
    failing = 'overrides = { a = 2.0, "knobs.mode" = "fail" }'
    spec.write_text(spec.read_text().replace("overrides = { a = 2.0 }", failing))
    assert main(["run", "toy1", "--seeds", "1", "--jobs", "1"]) == 1
    assert "failed: toy1:high seed 0: toy row asked to fail" in capsys.readouterr().err
    assert "| 1 " in (toy_env / "tables" / "mini" / "toy1.md").read_text()


def test_render_and_check_read_the_device_kind_asked_for(toy_env, capsys):
    """The device kind is in the run key: CPU and GPU records of a row live side by side, and
    render/check read one kind (auto on paper: the kind with more results of the table)."""
    from vdi_core.runner import execute, plan
    from vdi_core.spec import find_spec

    spec = find_spec("toy1")
    execute(plan(spec, "paper", device="cuda"), device="cuda", log=lambda s: None)  # the toy task needs no GPU
    tables = toy_env / "tables" / "paper"
    assert main(["render", "toy1", "--profile", "paper"]) == 0  # auto: only cuda results exist
    text = (tables / "toy1.md").read_text()  # the paper profile of the toy spec runs 1 seed
    assert "| 12.00     | 12.00     | +0.00 ✓" in text and "device: cuda" in text
    assert main(["render", "toy1", "--profile", "paper", "--device", "cpu"]) == 0
    text = (tables / "toy1.md").read_text()
    assert "| 1   | —       | 12.00     | —   |" in text and "n=0 -->" in text  # no CPU results: dashes
    assert main(["render", "toy1", "--profile", "paper", "--device", "tpu"]) == 2
    assert "--device 'tpu' is not a device" in capsys.readouterr().err
