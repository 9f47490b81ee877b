"""Data-source registry: (profile, source name) -> loader of `GroundingSplits` / probe data.

The same spec row runs on both profiles; only the source changes. The mini profile registers
sources that build the toy world and its features (mini/loaders.py); the paper profile registers
loaders for the real annotation files and extracted features (data/paper_grounding.py,
data/paper_probe.py). A source raises `errors.MissingData` (listing what is missing and the
command to get each) before any training starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from .errors import VdiError, did_you_mean
from .registry import Registry

SOURCES: Registry[Source] = Registry("data source")
# The module that registers a profile's sources, imported on the first lookup of that profile.
PROFILE_MODULES = {"mini": ("vdi_core.mini.loaders",),
                   "paper": ("vdi_core.data.paper_grounding", "vdi_core.data.paper_probe")}


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
    """Decorator: `@register_source("mini", "grounding")` over `fn(data_cfg, ctx) -> splits`.
    A second source under the same (profile, name) is an error, never a silent overwrite."""

    def deco(fn):
        SOURCES.register(f"{profile}:{name}", Source(fn, fingerprint, prebuild))
        return fn

    return deco


def source_entry(profile: str, name: str) -> Source:
    key = f"{profile}:{name}"
    if key not in SOURCES and profile in PROFILE_MODULES:
        for module in PROFILE_MODULES[profile]:
            importlib.import_module(module)
    if key not in SOURCES:
        known = [k.split(":", 1)[1] for k in SOURCES if k.startswith(profile + ":")]
        if not known and profile not in PROFILE_MODULES:
            raise VdiError(f"unknown profile '{profile}'{did_you_mean(profile, PROFILE_MODULES)}")
        raise VdiError(f"profile '{profile}' has no data source '{name}'{did_you_mean(name, known)}")
    return SOURCES.get(key)


def get_source(profile: str, name: str) -> Callable:
    return source_entry(profile, name).load
