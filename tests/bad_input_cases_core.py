"""Bad-input corpus cases: specs, CLI arguments, the run store, check and the runner (see tests/bad_inputs.py).

Every case works on the toy task (tests/toytask.py) in a fresh folder: specs under
<tmp>/experiments, results, cache and tables under <tmp>. `prepare` may run `vdi` itself first
(to leave a good rendered table, a golden file, stored results) before the bad command.
"""

from __future__ import annotations

import json
from pathlib import Path

import toytask  # noqa: F401 - registers the toy task for the in-process CLI
from bad_inputs import Case
from toytask import write_spec

EXP = {"VDI_EXPERIMENTS": "{tmp}/experiments"}


def case(id: str, klass: str, prepare, **kw) -> Case:
    return Case(id=id, klass=klass, prepare=prepare, env={**EXP, **kw.pop("env", {})}, **kw)


def _vdi(*argv: str) -> None:
    from vdi_core.cli import main

    code = main(list(argv))
    assert code == 0, f"preparing the case: vdi {' '.join(argv)} exited {code}"


def _exp(tmp: Path) -> Path:
    d = tmp / "experiments"
    d.mkdir(exist_ok=True)
    return d


def _toy(tmp: Path, id: str = "toy1", seeds: int = 2, extra: str = "", edit=None) -> Path:
    path = write_spec(_exp(tmp), id=id, seeds=seeds, extra=extra)
    if edit is not None:
        path.write_text(edit(path.read_text()))
    return path


def _records(tmp: Path) -> list[Path]:
    return sorted((tmp / "results" / "mini").glob("*.json"))


def _golden(tmp: Path) -> Path:
    return tmp / "tables" / "mini" / "golden.json"


def _good_run(tmp: Path, golden: bool = True, seeds: int = 2) -> None:
    """A complete, checked toy table: results, rendered table and (optionally) a golden file."""
    _toy(tmp, seeds=seeds)
    _vdi("run", "toy1", "--jobs", "1")
    if golden:
        _vdi("check", "--update-golden")


def _edit_record(tmp: Path, fn, which: int = 0) -> None:
    path = _records(tmp)[which]
    rec = json.loads(path.read_text())
    path.write_text(json.dumps(fn(rec)))


def _no_scratch(tmp: Path) -> None:
    assert not (tmp / "results").exists(), "a work folder or record was created before the error"


def _golden_unchanged_from(expected: dict):
    def check(tmp: Path) -> None:
        assert json.loads(_golden(tmp).read_text()) == expected

    return check


# --- 1. `vdi check` must not say OK having compared nothing ------------------------------------


def _check_empty(tmp):
    _toy(tmp)
    return ["check"]


def _check_wrong_results(tmp):
    import os

    wrong = os.environ["VDI_RESULTS"]
    os.environ["VDI_RESULTS"] = str(tmp / "results")  # the good store; `check` then reads the wrong one
    try:
        _good_run(tmp)
    finally:
        os.environ["VDI_RESULTS"] = wrong
    return ["check"]


def _check_zero_cells(tmp):
    _good_run(tmp)
    g = json.loads(_golden(tmp).read_text())
    g["tables"]["toy1"]["rows"] = {}  # a golden entry that holds no cell: nothing to compare
    _golden(tmp).write_text(json.dumps(g))
    return ["check"]


def _check_no_golden(tmp):
    _good_run(tmp, golden=False)
    return ["check"]


def _check_stale(tmp):
    _good_run(tmp)
    _edit_record(tmp, lambda r: {**r, "metrics": {**r["metrics"], "other": r["metrics"]["other"] + 0.1}})
    return ["check"]


def _check_fewer_results(tmp):
    _good_run(tmp)
    _records(tmp)[0].unlink()  # the table was rendered from 4 results, 3 are here
    return ["check"]


def _check_fewer_seeds(tmp):
    _good_run(tmp)
    for path in _records(tmp):  # keep seed 0 only; the golden file holds 2 seeds
        if json.loads(path.read_text())["seed"] == 1:
            path.unlink()
    _vdi("render", "toy1")
    return ["check"]


def _check_table_not_in_golden(tmp):
    _good_run(tmp)
    _toy(tmp, id="toy2")
    _vdi("run", "toy2", "--jobs", "1")
    return ["check"]


def _check_gpu_record(tmp):
    _good_run(tmp)
    _edit_record(tmp, lambda r: {**r, "provenance": {**r["provenance"], "device": "cuda:0 (NVIDIA H200)"}})
    _vdi("render", "toy1")
    return ["check"]


def _golden_text(text: str):
    def prepare(tmp):
        _good_run(tmp)
        _golden(tmp).write_text(text)
        return ["check"]

    return prepare


def _update_partial(tmp):
    _good_run(tmp)
    _records(tmp)[0].unlink()  # a partial store: the update must not shrink the golden file
    return ["check", "--update-golden"]


def _update_gpu(tmp):
    _good_run(tmp)
    _edit_record(tmp, lambda r: {**r, "provenance": {**r["provenance"], "device": "cuda:0 (NVIDIA H200)"}})
    return ["check", "--update-golden"]


def _golden_after_good_run() -> dict:
    # what _good_run's golden file holds (toy1, seeds 0 and 1: mean +0.5, std 0.71)
    s = 0.707107
    rows = {"low": {"score": {"mean": 12.5, "std": s, "n": 2}, "other": {"mean": 87.5, "std": s, "n": 2}},
            "high": {"score": {"mean": 22.5, "std": s, "n": 2}, "other": {"mean": 77.5, "std": s, "n": 2}}}
    from vdi_core.store import cpu_kind

    return {"profile": "mini", "tolerance": 0.5, "cpu_kind": cpu_kind(),
            "tables": {"toy1": {"rows": rows, "claims": {"high_beats_low": "holds"}}}}


# --- 4. silent wrong numbers in the suite ------------------------------------------------------------


def _run_args(*args):
    def prepare(tmp):
        _good_run(tmp, golden=False)  # a good rendered table that the bad command must not overwrite
        return ["run", "toy1", "--jobs", "1", *args]

    return prepare


def _spec_seeds_negative(tmp):
    _good_run(tmp, golden=False)
    _toy(tmp, edit=lambda t: t.replace("seeds = 2", "seeds = -2"))
    return ["run", "toy1", "--jobs", "1"]


PAPER_ONLY_ROW = '''
[[rows]]
id = "paper_only"
settings = { a = 5 }
overrides = { a = 5.0 }
reference = { score = 52.0, other = 48.0 }
profiles = ["paper"]
'''


def _rows_other_profile(tmp):
    _toy(tmp, extra=PAPER_ONLY_ROW)
    return ["run", "toy1", "--rows", "paper_only", "--jobs", "1"]


# --- 5. tracebacks where a line is due: specs ----------------------------------------------------------


def _spec(edit=None, extra: str = "", argv=("run", "toy1", "--jobs", "1")):
    def prepare(tmp):
        _toy(tmp, extra=extra, edit=edit)
        return list(argv)

    return prepare


def _include_dir(tmp):
    (_exp(tmp) / "shared").mkdir()
    _toy(tmp, edit=lambda t: 'include = "shared"\n' + t)
    return ["run", "toy1", "--jobs", "1"]


def _include_missing(tmp):
    _toy(tmp, edit=lambda t: 'include = "_nope.toml"\n' + t)
    return ["run", "toy1", "--jobs", "1"]


def _include_not_utf8(tmp):
    (_exp(tmp) / "_base.toml").write_bytes(b'caption = "caf\xe9"\n')
    _toy(tmp, edit=lambda t: 'include = "_base.toml"\n' + t)
    return ["run", "toy1", "--jobs", "1"]


def _not_utf8(tmp):
    path = _toy(tmp)
    path.write_bytes(path.read_bytes().replace(b'title = "Toy table toy1"', b'title = "Toy caf\xe9 table"'))
    return ["run", "toy1", "--jobs", "1"]


def _spec_is_dir(tmp):
    _toy(tmp, id="toy2")
    (_exp(tmp) / "toy1.toml").mkdir()
    return ["render", "toy1"]


# --- 5. the store and the environment ----------------------------------------------------------------


def _record(edit):
    def prepare(tmp):
        _good_run(tmp, golden=False)
        path = _records(tmp)[0]
        path.write_text(edit(json.loads(path.read_text())))
        return ["render", "toy1"]

    return prepare


def _record_run(tmp):
    _good_run(tmp, golden=False)
    _records(tmp)[0].write_text(json.dumps({"metrics": 3}))
    return ["run", "toy1", "--jobs", "1"]


def _results_unwritable(tmp):
    _toy(tmp)
    (tmp / "results").mkdir()
    (tmp / "results" / "mini").write_text("not a folder")  # nothing can be created under it
    return ["run", "toy1", "--jobs", "1"]


def _env_is_file(var: str, argv: list[str]):
    def prepare(tmp):
        _toy(tmp)
        (tmp / "a_file").write_text("x")
        return argv

    return case(f"env-{var.lower().replace('_', '-')}-is-a-file", "5", prepare, phrase=f"{var} points to",
                env={var: "{tmp}/a_file"})


def _device(dev: str):
    def prepare(tmp):
        _toy(tmp)
        return ["run", "toy1", "--device", dev, "--jobs", "1"]

    return prepare


CASES: list[Case] = [
    # 1. check
    case("check-empty-results", "1", _check_empty, exit_code=1, phrase="no mini results for toy1"),
    case("check-wrong-results-folder", "1", _check_wrong_results, exit_code=1, phrase="no mini results",
         env={"VDI_RESULTS": "{tmp}/elsewhere"}),
    case("check-zero-compared-cells", "1", _check_zero_cells, exit_code=1, phrase="compared 0 cells"),
    case("check-missing-golden", "1", _check_no_golden, exit_code=1, phrase="no golden file at"),
    case("check-stale-table", "1", _check_stale, exit_code=1, phrase="is stale: results changed"),
    case("check-fewer-results-than-rendered", "1", _check_fewer_results, exit_code=1,
         phrase="was rendered from 4 results, only 3 present here"),
    case("check-fewer-seeds-than-golden", "1", _check_fewer_seeds, exit_code=1,
         phrase="have no comparable local result", tables_may_change=True),
    case("check-table-not-in-golden", "1", _check_table_not_in_golden, exit_code=1,
         phrase="toy2: not in the golden file"),
    case("check-gpu-result-vs-cpu-golden", "1", _check_gpu_record, exit_code=1,
         phrase="the golden file holds CPU numbers"),
    case("check-golden-not-json", "1", _golden_text("{not json"), phrase="is not valid JSON"),
    case("check-golden-a-list", "1", _golden_text("[1, 2]"), phrase="top level is a JSON list"),
    case("check-golden-bad-cell", "1", _golden_text(json.dumps(
        {"profile": "mini", "tolerance": 0.5, "tables": {"toy1": {"rows": {"low": {"score": {"mean": "abc"}}},
                                                                  "claims": {}}}})),
         phrase="tables.toy1.rows.low.score needs 'mean'"),
    case("check-golden-negative-tolerance", "1", _golden_text(json.dumps(
        {"profile": "mini", "tolerance": -1, "tables": {}})), phrase="'tolerance' is -1"),
    case("check-update-golden-partial", "1", _update_partial, phrase="refusing to update the golden file",
         after=_golden_unchanged_from(_golden_after_good_run())),
    case("check-update-golden-gpu", "1", _update_gpu, phrase="computed on cuda:0",
         after=_golden_unchanged_from(_golden_after_good_run())),
    case("check-update-golden-paper", "1", lambda tmp: (_good_run(tmp, golden=False),
                                                         ["check", "--profile", "paper", "--update-golden"])[1],
         phrase="--update-golden applies to the mini profile only"),
    # 4. silent wrong numbers
    case("run-seeds-zero", "4", _run_args("--seeds", "0"), phrase="--seeds must be >= 1"),
    case("run-seeds-negative", "4", _run_args("--seeds", "-1"), phrase="--seeds must be >= 1"),
    case("spec-seeds-negative", "4", _spec_seeds_negative, phrase="'seeds' must be >= 1"),
    case("run-rows-of-another-profile", "4", _rows_other_profile, phrase="not part of the 'mini' profile",
         after=_no_scratch),
    case("run-rows-typo", "4", _run_args("--rows", "hihg"), phrase="did you mean 'high'"),
    case("run-rows-empty", "4", _run_args("--rows", ","), phrase="names no row"),
    # 5. specs
    case("spec-include-is-a-folder", "5", _include_dir, phrase="is a folder, not a TOML file"),
    case("spec-include-missing", "5", _include_missing, phrase="not found"),
    case("spec-include-not-utf8", "5", _include_not_utf8, phrase="not UTF-8"),
    case("spec-not-utf8", "5", _not_utf8, phrase="not UTF-8"),
    case("spec-is-a-folder", "5", _spec_is_dir, phrase="is a folder"),
    case("spec-invalid-toml", "5", _spec(edit=lambda t: t + "\n[[rows]\n"), phrase="invalid TOML"),
    case("spec-decimals-negative", "5", _spec(edit=lambda t: t.replace('label = "Score"',
                                                                        'label = "Score"\ndecimals = -1')),
         phrase="'decimals' must be between 0 and 12"),
    case("spec-tolerance-negative", "5", _spec(edit=lambda t: t.replace("tolerance = 0.5", "tolerance = -0.5")),
         phrase="'tolerance' must be a finite number >= 0"),
    case("spec-tolerance-nan", "5", _spec(edit=lambda t: t.replace("tolerance = 0.5", "tolerance = nan")),
         phrase="'tolerance' must be a finite number >= 0"),
    case("spec-reference-nan", "5", _spec(edit=lambda t: t.replace("score = 12.0", "score = nan")),
         phrase="must be a finite number"),
    case("spec-unknown-key", "5", _spec(edit=lambda t: t.replace("version = 1", "version = 1\nversoin = 2")),
         phrase="unknown key 'versoin'"),
    case("spec-bad-type", "5", _spec(edit=lambda t: t.replace("seeds = 2", 'seeds = "two"')),
         phrase="'profiles.mini.seeds' must be int"),
    case("spec-missing-required-key", "5", _spec(edit=lambda t: t.replace('task = "toy"\n', "")),
         phrase="missing required key 'task'"),
    case("spec-unknown-task", "5", _spec(edit=lambda t: t.replace('task = "toy"', 'task = "tyo"')),
         phrase="unknown task 'tyo'"),
    case("spec-unknown-config-key", "5", _spec(edit=lambda t: t.replace("overrides = { a = 2.0 }",
                                                                         "overrides = { c = 2.0 }")),
         phrase="unknown config key 'c'"),
    case("spec-claim-unknown-row", "5", _spec(edit=lambda t: t.replace('a = "high"', 'a = "hihg"')),
         phrase="names unknown row 'hihg'"),
    case("spec-bold-unknown-metric", "5", _spec(edit=lambda t: t.replace('bold = ["score"]', 'bold = ["scroe"]')),
         phrase="bold names unknown metric 'scroe'"),
    case("spec-id-differs-from-file", "5", _spec(edit=lambda t: t.replace('id = "toy1"', 'id = "toy9"', 1)),
         phrase="differs from the file name"),
    case("spec-duplicate-row", "5", _spec(extra='\n[[rows]]\nid = "low"\nsettings = { a = 1 }\n'
                                                'overrides = { a = 1.0 }\nreference = { score = 1, other = 1 }\n'),
         phrase="duplicate row ids"),
    case("spec-paper-row-without-reference", "5", _spec(edit=lambda t: t.replace(
        "reference = { score = 22.0, other = 78.0 }", "reference = { score = 22.0 }")),
         phrase="missing reference value for other"),
    case("spec-row-unknown-profile", "5", _spec(extra=PAPER_ONLY_ROW.replace('["paper"]', '["papr"]')),
         phrase="unknown profile 'papr'"),
    case("spec-claim-kind-unknown", "5", _spec(edit=lambda t: t.replace('kind = "greater"', 'kind = "bigger"')),
         phrase="is not a claim kind"),
    case("spec-no-rows", "5", _spec(edit=lambda t: t.split("[[rows]]")[0].replace("version = 1",
                                                                                   "version = 1\nrows = []")),
         phrase="at least one"),
    # 5. CLI arguments
    case("run-unknown-table", "5", _spec(argv=("run", "toy9")), phrase="unknown table 'toy9'"),
    case("run-device-cuda-unavailable-or-absent", "5", _device("cuda:99"), phrase="--device cuda:99",
         after=_no_scratch),
    case("run-device-not-a-device", "5", _device("gpu"), phrase="is not a device", after=_no_scratch),
    case("run-jobs-negative", "5", _spec(argv=("run", "toy1", "--jobs", "-1")), phrase="--jobs must be >= 0",
         after=_no_scratch),
    # 5. the store
    case("store-record-wrong-shape", "5", _record(lambda r: json.dumps({"metrics": 3})), phrase="wrong shape"),
    case("store-record-a-list", "5", _record(lambda r: "[]"), phrase="a JSON list, not an object"),
    case("store-record-metric-not-a-number", "5",
         _record(lambda r: json.dumps({**r, "metrics": {**r["metrics"], "score": "12"}})),
         phrase="metric 'score' is '12', not a number"),
    case("store-record-other-key", "5", _record(lambda r: json.dumps({**r, "key": "0" * 20})),
         phrase="it holds key 00000000000000000000"),
    case("store-record-wrong-shape-at-run", "5", _record_run, phrase="wrong shape", tables_may_change=True),
    case("store-results-unwritable", "5", _results_unwritable, exit_code=1, phrase="writable",
         tables_may_change=True),
    _env_is_file("VDI_RESULTS", ["run", "toy1", "--jobs", "1"]),
    _env_is_file("VDI_CACHE", ["run", "toy1", "--jobs", "1"]),
    _env_is_file("VDI_TABLES", ["render", "toy1"]),
]
