"""Bad-input corpus cases: annotation and feature files, predictions and scoring (see tests/bad_inputs.py)."""

from bad_inputs import Case

CASES: list[Case] = []
