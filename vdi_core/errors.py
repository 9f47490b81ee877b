"""One exception type for bad input: the CLI prints its message as a single line, no traceback."""

import difflib


class VdiError(Exception):
    """A user-facing error: say what is wrong, where (file/line/key), and how to fix it."""


def did_you_mean(name: str, choices) -> str:
    """' (did you mean 'x'?)' when a close match exists, else a list of valid choices."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (valid: {', '.join(choices)})" if choices else ""
