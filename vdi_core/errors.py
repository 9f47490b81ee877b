"""One exception type for bad input: the CLI prints its message as a single line, no traceback."""

import difflib
import tomllib
from pathlib import Path


class VdiError(Exception):
    """A user-facing error: say what is wrong, where (file/line/key), and how to fix it."""


def read_toml(path: Path, what: str, fix: str) -> dict:
    """Parse a TOML data file; a missing or malformed file is one actionable line, not a traceback."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VdiError(f"{what} not found at {path}; {fix}") from None
    except IsADirectoryError:
        raise VdiError(f"{what} {path} is a folder, not a TOML file; {fix}") from None
    except UnicodeDecodeError as e:
        raise VdiError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); save the file as UTF-8") from None
    except OSError as e:
        raise VdiError(f"cannot read {what} {path} ({e.strerror}); check its permissions") from None
    except tomllib.TOMLDecodeError as e:
        raise VdiError(f"{path}: invalid TOML ({e}); fix the file") from None


def did_you_mean(name: str, choices) -> str:
    """' (did you mean 'x'?)' when a close match exists, else a list of valid choices."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (valid: {', '.join(choices)})" if choices else ""


class MissingData(VdiError):
    """A run's input data is not there: lists each missing piece and the command that gets it.
    Raised by data sources before any training starts."""

    def __init__(self, missing: list[tuple[str, str]]):
        self.missing = missing  # (what, command to get it)
        lines = "; ".join(f"{what} -> run: {cmd}" for what, cmd in missing)
        super().__init__(f"missing data for this run: {lines}")
