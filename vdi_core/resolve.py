"""Resolution of a row's config: task defaults <- spec base <- profile overrides <- row overrides.

The task's config is a (nested) dataclass; overrides are dotted keys ("vdi.lambda_vc"). Every key is
checked against the dataclass fields, so a typo fails loudly instead of running the default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from .errors import VdiError, did_you_mean


def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Make TOML values fit the field type: int->float, list->tuple; reject the rest with a reason."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except VdiError as e:
                errors.append(str(e))
        raise VdiError(errors[0] if errors else f"{where}: cannot use {value!r}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple or hint is tuple:
        if not isinstance(value, (list, tuple)):
            raise VdiError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        elem = args[0] if args else Any
        return tuple(_coerce(v, elem, where) for v in value)
    if hint is Any or hint is object:
        return value
    if isinstance(hint, type):
        if isinstance(value, bool) and hint is not bool:
            raise VdiError(f"{where}: expected {hint.__name__}, got bool {value!r}")
        if not isinstance(value, hint):
            raise VdiError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def apply_overrides(cfg: Any, overrides: dict[str, Any], source: str) -> Any:
    """Return a copy of the dataclass `cfg` with dotted-key overrides applied and type-checked."""
    nested: dict[str, dict[str, Any]] = {}
    direct: dict[str, Any] = {}
    types = _field_types(type(cfg))
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if head not in types:
            raise VdiError(f"{source}: unknown config key '{key}'{did_you_mean(head, types)}")
        sub = getattr(cfg, head)
        if rest:
            if not dataclasses.is_dataclass(sub):
                raise VdiError(f"{source}: '{head}' is a value, not a section; use '{head}' = ...")
            nested.setdefault(head, {})[rest] = value
        else:
            if dataclasses.is_dataclass(sub):
                raise VdiError(f"{source}: '{key}' is a section; set its fields, e.g. '{key}.<field>'")
            direct[head] = _coerce(value, types[head], f"{source}: '{key}'")
    for head, sub_over in nested.items():
        direct[head] = apply_overrides(getattr(cfg, head), sub_over, f"{source}: {head}")
    try:
        return dataclasses.replace(cfg, **direct)  # re-runs __post_init__ validation
    except VdiError:
        raise
    except (TypeError, ValueError) as e:
        raise VdiError(f"{source}: {e}") from None


def to_dict(cfg: Any) -> dict:
    """Canonical nested dict of a config (tuples become lists so it is JSON)."""
    return dataclasses.asdict(cfg)


def assumption_fields(cfg: Any) -> dict[str, list[str]]:
    """{"A5": ["vdi.tau_context=0.1"], ...}: the fields of a (nested) config dataclass that implement
    an assumption of docs/REPRODUCTION_NOTES.md (field metadata 'assumption', e.g. "A2" or "A1, A17"),
    in declaration order; the ids sorted A1, A2, ..., A17. The one walker: the run record's
    `provenance.assumptions` and the grounding result's `extra.assumptions` both come from it."""
    found: dict[str, list[str]] = {}

    def walk(obj, prefix: str) -> None:
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            for a in str(f.metadata.get("assumption") or "").split(","):
                if a.strip():
                    found.setdefault(a.strip(), []).append(f"{prefix}{f.name}={v!r}")
            if dataclasses.is_dataclass(v):
                walk(v, f"{prefix}{f.name}.")

    walk(cfg, "")
    return {k: found[k] for k in sorted(found, key=lambda s: (len(s), s))}


def assumptions_in_force(cfg: Any) -> list[str]:
    """The A-ids a config's fields implement, sorted A1, A2, ..., A17."""
    return list(assumption_fields(cfg))


def assumption_values(cfg: Any) -> dict[str, str]:
    """{"A5": "vdi.tau_context=0.1", ...}: each A-id with the settings that implement it."""
    return {k: ", ".join(v) for k, v in assumption_fields(cfg).items()}
