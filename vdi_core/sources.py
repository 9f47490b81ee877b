"""Data-source registry: (profile, source name) -> loader of `GroundingSplits`.

The same spec row runs on both profiles; only the source changes. The mini profile registers
sources that build the toy world and its features; the paper profile registers loaders for the
real annotation files and extracted features. A source raises `MissingData` (listing what is
missing and the command to get each) before any training starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .errors import VdiError, did_you_mean

_SOURCES: dict[str, Callable] = {}
_PROFILE_MODULES = {"mini": "vdi_core.mini.sources", "paper": "vdi_core.data.sources"}


class MissingData(VdiError):
    def __init__(self, missing: list[tuple[str, str]]):
        self.missing = missing  # (what, command to get it)
        lines = "; ".join(f"{what} -> run: {cmd}" for what, cmd in missing)
        super().__init__(f"missing data for this run: {lines}")


def register_source(profile: str, name: str):
    """Decorator: `@register_source("mini", "grounding")` over `fn(data_cfg, ctx) -> splits`."""

    def deco(fn):
        _SOURCES[f"{profile}:{name}"] = fn
        return fn

    return deco


def get_source(profile: str, name: str) -> Callable:
    key = f"{profile}:{name}"
    if key not in _SOURCES and profile in _PROFILE_MODULES:
        importlib.import_module(_PROFILE_MODULES[profile])
    if key not in _SOURCES:
        known = [k.split(":", 1)[1] for k in _SOURCES if k.startswith(profile + ":")]
        if profile not in _PROFILE_MODULES:
            raise VdiError(f"unknown profile '{profile}'{did_you_mean(profile, _PROFILE_MODULES)}")
        raise VdiError(f"profile '{profile}' has no data source '{name}'{did_you_mean(name, known)}")
    return _SOURCES[key]
