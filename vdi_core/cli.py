"""The `vdi` command. Thin: each subcommand lives in a module under vdi_core/commands/ (or the
package that owns it) exposing `register(subparsers)`; this file only wires them together and
turns a `VdiError` into one readable line and exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import VdiError

# Each module adds its own subcommands. Keep the list short and alphabetical per area.
COMMAND_MODULES = [
    "vdi_core.commands.suite",  # run, refs, report, render, check
    "vdi_core.commands.score",  # score (standalone evaluation of predictions)
    "vdi_core.commands.results",  # results (a table as JSON / CSV / text, with intervals and verdicts)
    "vdi_core.commands.data",  # data status|fetch|verify|stats, features extract
    "vdi_core.commands.cache",  # cache info|clear (mini profile)
    "vdi_core.commands.status",  # status (where each run stands: store, Slurm jobs)
    "vdi_core.commands.diagnose",  # diagnose (mini: do a trained row's predictions read the verbs?)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vdi", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # an area not built yet; the rest of the CLI still works
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VdiError as e:
        print(f"vdi {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vdi {args.command}: interrupted; finished rows are kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
