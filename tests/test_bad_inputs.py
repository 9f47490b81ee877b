"""The bad-input corpus: every class of bad input or fault tried by the issue "Trustworthy under
bad input", each with its command, exit code, phrase and a store/tables check (tests/bad_inputs.py).
Cases live in two modules by area: suite/store/runner (`bad_input_cases_core`) and data files,
features and scoring (`bad_input_cases_data`)."""

import pytest

from bad_input_cases_core import CASES as CORE
from bad_input_cases_data import CASES as DATA
from bad_inputs import run_case

CASES = CORE + DATA


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path, monkeypatch, capsys):
    run_case(case, tmp_path, monkeypatch, capsys)
