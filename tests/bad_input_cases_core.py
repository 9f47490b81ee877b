"""Bad-input corpus cases: specs, CLI arguments, the run store, check and the runner (see tests/bad_inputs.py)."""

from bad_inputs import Case

CASES: list[Case] = []
