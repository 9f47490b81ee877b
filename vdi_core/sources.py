"""Data-source registry: (profile, source name) -> loader of `GroundingSplits`.

The same spec row runs on both profiles; only the source changes. The mini profile registers
sources that build the toy world and its features; the paper profile registers loaders for the
real annotation files and extracted features. A source raises `MissingData` (listing what is
missing and the command to get each) before any training starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from .errors import VdiError, did_you_mean

_SOURCES: dict[str, Source] = {}
_PROFILE_MODULES = {"mini": "vdi_core.mini.sources", "paper": "vdi_core.data.sources"}


class MissingData(VdiError):
    def __init__(self, missing: list[tuple[str, str]]):
        self.missing = missing  # (what, command to get it)
        lines = "; ".join(f"{what} -> run: {cmd}" for what, cmd in missing)
        super().__init__(f"missing data for this run: {lines}")


@dataclass(frozen=True)
class Source:
    load: Callable  # (data_cfg, ctx) -> splits / probe data
    # (data_cfg, ctx) -> {"data": ..., "text_tower": ...}: the identity the loaded splits will carry,
    # computed without loading or building anything, so planning (and `vdi render`) stays instant.
    fingerprint: Callable | None = None
    # (data_cfgs, ctx) -> [BuildJob]: independent pieces of generated input (one mini backbone
    # each) that the runner builds in parallel before the runs that read them.
    prebuild: Callable | None = None


def register_source(profile: str, name: str, fingerprint: Callable | None = None, prebuild: Callable | None = None):
    """Decorator: `@register_source("mini", "grounding")` over `fn(data_cfg, ctx) -> splits`."""

    def deco(fn):
        _SOURCES[f"{profile}:{name}"] = Source(fn, fingerprint, prebuild)
        return fn

    return deco


def source_entry(profile: str, name: str) -> Source:
    key = f"{profile}:{name}"
    if key not in _SOURCES and profile in _PROFILE_MODULES:
        importlib.import_module(_PROFILE_MODULES[profile])
    if key not in _SOURCES:
        known = [k.split(":", 1)[1] for k in _SOURCES if k.startswith(profile + ":")]
        if profile not in _PROFILE_MODULES:
            raise VdiError(f"unknown profile '{profile}'{did_you_mean(profile, _PROFILE_MODULES)}")
        raise VdiError(f"profile '{profile}' has no data source '{name}'{did_you_mean(name, known)}")
    return _SOURCES[key]


def get_source(profile: str, name: str) -> Callable:
    return source_entry(profile, name).load
