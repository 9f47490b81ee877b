"""One registry for every named, pluggable thing: tasks, data sources, text towers, injection
forms, backbones.

A `Registry(kind)` maps a name to an object. Registering a name twice with a different object is
an error (two plugins claiming one name would otherwise depend on import order). An entry may be
lazy, `"package.module:attr"`: the module is imported the first time the name is looked up, so a
registry listing the torch-based tasks can be read by `vdi --help` without importing torch. A
lookup of an unknown name is one `VdiError` line with a did-you-mean.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from .errors import VdiError, did_you_mean

T = TypeVar("T")


class _Lazy(str):
    """A "module:attr" reference still to be imported."""


class Registry(Generic[T]):
    def __init__(self, kind: str, fix: str = ""):
        self.kind = kind  # "task", "text tower kind", ... (used in error messages)
        self.fix = fix  # how to register a new one, appended to "unknown" errors
        self._entries: dict[str, Any] = {}

    def register(self, name: str, obj: T | str | None = None) -> Any:
        """`reg.register("x", obj)`, `reg.register("x", "pkg.mod:attr")` (lazy), or as a decorator
        `@reg.register("x")`. Re-registering the same object (a module imported twice) is a no-op."""
        if obj is None:
            def deco(fn):
                self.register(name, fn)
                return fn
            return deco
        if isinstance(obj, str):
            if ":" not in obj:
                raise VdiError(f"{self.kind} '{name}': a lazy entry is 'package.module:attr', got {obj!r}")
            obj = _Lazy(obj)
        old = self._entries.get(name)
        if old is not None and not self._same(old, obj):
            raise VdiError(f"{self.kind} '{name}' is registered twice ({self._describe(old)} and "
                           f"{self._describe(obj)}); give one of them another name")
        if old is None or isinstance(old, _Lazy):  # a lazy entry is replaced by what it points to
            self._entries[name] = obj
        return obj

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise VdiError(f"unknown {self.kind} '{name}'{did_you_mean(str(name), self._entries)}"
                           + (f"; {self.fix}" if self.fix else ""))
        obj = self._entries[name]
        if isinstance(obj, _Lazy):
            module, attr = obj.split(":", 1)
            obj = getattr(importlib.import_module(module), attr)
            self._entries[name] = obj
        return obj

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def names(self) -> tuple[str, ...]:
        """In registration order (the first is the default where a default is needed)."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def _same(self, old: Any, new: Any) -> bool:
        if old is new or old == new:
            return True
        if isinstance(old, _Lazy) and not isinstance(new, _Lazy):
            # the object a lazy entry names, registering itself (a decorated function is not yet
            # bound in its module, so match its defining module and name too)
            module, attr = old.split(":", 1)
            named = getattr(new, "__module__", None) == module and getattr(new, "__qualname__", None) == attr
            return named or _attr_is(module, attr, new)
        return False

    @staticmethod
    def _describe(obj: Any) -> str:
        if isinstance(obj, _Lazy):
            return str(obj)
        return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', type(obj).__name__)}"


def _attr_is(module: str, attr: str, obj: Any) -> bool:
    import sys

    mod = sys.modules.get(module)
    return mod is not None and getattr(mod, attr, None) is obj

