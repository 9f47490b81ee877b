"""The bad-input corpus harness (issue: "Trustworthy under bad input").

A `Case` is one bad input or fault a user can cause. `prepare(tmp)` writes whatever the case needs
under a fresh folder (results, cache and tables roots point there) and returns the `vdi` argv.
`run_case` calls the CLI in-process (torch is imported once for the whole corpus) and checks the
contract every case shares: the expected exit code, an expected phrase, no traceback (any exception
escaping `main` fails the case), for exit 2 exactly one error line on stderr, and afterwards every
stored result JSON still parses and the tables folder is byte-identical unless the case allows a
change. Cases that need a real process (kill, concurrency) are ordinary tests, not corpus entries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Case:
    id: str  # a slug, unique over the corpus: "score-duplicate-query-id"
    klass: str  # the item it covers, e.g. "4" or "5"
    prepare: Callable[[Path], list[str]]  # tmp dir -> vdi argv (without "vdi")
    exit_code: int = 2
    phrase: str = ""  # expected (case-insensitive) in stdout + stderr
    tables_may_change: bool = False
    env: dict[str, str] = field(default_factory=dict)  # extra environment; "{tmp}" is replaced
    # An extra check of the state afterwards (tmp dir -> asserts), e.g. "no work folder was created".
    after: Callable[[Path], None] | None = None


def snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_case(case: Case, tmp: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    from vdi_core.cli import main

    for name, root in (("VDI_RESULTS", "results"), ("VDI_CACHE", "cache"), ("VDI_TABLES", "tables")):
        monkeypatch.setenv(name, str(tmp / root))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value.replace("{tmp}", str(tmp)))
    argv = case.prepare(tmp)
    before = snapshot(tmp / "tables")
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors exit 2 with one usage line: acceptable
        code = e.code if isinstance(e.code, int) else 2
    out, err = capsys.readouterr()
    text = (out + err).lower()
    assert code == case.exit_code, f"{case.id}: exit {code}, expected {case.exit_code}\n{out}\n{err}"
    assert "traceback" not in text, f"{case.id}: printed a traceback\n{err}"
    assert case.phrase.lower() in text, f"{case.id}: {case.phrase!r} not in output\n{out}\n{err}"
    if case.exit_code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) >= 1 and "error" in lines[-1].lower(), f"{case.id}: no error line\n{err}"
    for p in (tmp / "results").rglob("*.json") if (tmp / "results").exists() else []:
        json.loads(p.read_text(encoding="utf-8"))  # nothing half-written
    if not case.tables_may_change:
        assert snapshot(tmp / "tables") == before, f"{case.id}: the tables folder changed"
    if case.after is not None:
        case.after(tmp)
    return code, out, err
