"""The noxfile derives one session per experiment spec: adding a table edits no code."""

import importlib.util

from vdi_core.spec import list_specs

from conftest import REPO


def test_every_spec_has_a_nox_session():
    spec = importlib.util.spec_from_file_location("vdi_noxfile", REPO / "noxfile.py")
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    sessions = {name.removeprefix("session_") for name in vars(noxfile) if name.startswith("session_")}
    assert set(list_specs()) <= sessions
    assert not any(name.startswith("_") for name in sessions)  # includes are not tables
