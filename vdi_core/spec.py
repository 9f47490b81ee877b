"""Experiment specs: one TOML file per table under experiments/, validated into frozen dataclasses.

A spec is data, not code: the rows (overrides of the task's config), the metric columns, the
paper's reference value for every cell (bold marks kept), tolerances and the table's claims.
Every key is checked; a misspelt one fails with file, key and a did-you-mean hint, because a
silently ignored override would produce a wrong number that looks right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import VdiError, did_you_mean, read_toml
from .paths import experiments_root

PROFILES = ("mini", "paper")
CLAIM_KINDS = ("greater", "max", "min", "metric_greater", "at_least")


@dataclass(frozen=True)
class Metric:
    id: str  # key in the task's metrics (after the row's metric_prefix)
    label: str
    higher_is_better: bool = True
    tolerance: float = 1.0  # |measured - paper| allowed on the paper profile
    decimals: int = 2


@dataclass(frozen=True)
class Row:
    id: str
    settings: tuple[tuple[str, Any], ...]  # what the table shows in its settings columns
    overrides: tuple[tuple[str, Any], ...]  # dotted config keys -> values
    reference: tuple[tuple[str, float], ...] = ()  # paper value per metric id
    bold: tuple[str, ...] = ()  # metrics the paper marks best
    profiles: tuple[str, ...] = PROFILES  # a reference row (e.g. the fixed prior) may be mini-only
    metric_prefix: str = ""  # rows sharing one run read their cells as prefix + metric id
    role: str = "row"  # "row" (a table row) or "reference" (shown, never in claims or refs)

    def ref(self, metric: str) -> float | None:
        return dict(self.reference).get(metric)


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    # greater: a > b (+ margin) | max/min: row is extreme among rows | metric_greater: m1 > m2 in rows
    # | at_least: row >= value (a threshold, e.g. a premise rung)
    kind: str
    metrics: tuple[str, ...]
    a: str = ""
    b: str = ""
    row: str = ""
    among: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()
    margin: float = 0.0  # greater only: a must exceed b by more than this (in the metric's units)
    value: float | None = None  # at_least only: the threshold


@dataclass(frozen=True)
class ProfileDefaults:
    seeds: int = 1
    overrides: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Spec:
    id: str
    title: str
    version: int
    task: str
    caption: str
    settings_columns: tuple[tuple[str, str], ...]  # (setting id, label)
    base: tuple[tuple[str, Any], ...]
    profiles: dict[str, ProfileDefaults]
    metrics: tuple[Metric, ...]
    rows: tuple[Row, ...]
    claims: tuple[Claim, ...]
    path: str = ""
    outputs: tuple[str, ...] = ()  # extra artefacts the table produces (Figure 1's PNG)

    def row(self, row_id: str) -> Row:
        for r in self.rows:
            if r.id == row_id:
                return r
        raise VdiError(f"{self.path}: no row '{row_id}'{did_you_mean(row_id, [r.id for r in self.rows])}")

    def rows_for(self, profile: str) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if profile in r.profiles)

    def metric(self, metric_id: str) -> Metric:
        return next(m for m in self.metrics if m.id == metric_id)


# --- validation helpers -----------------------------------------------------------------------


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """{"vdi": {"lambda_vc": 0.5}} and {"vdi.lambda_vc": 0.5} both become the dotted form."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = tuple(v) if isinstance(v, list) else v
    return out


class _Reader:
    """Reads one table of a spec, remembering where it is so every error names file and key."""

    def __init__(self, path: str, where: str, data: dict, allowed: dict[str, type | tuple]):
        self.path, self.where, self.data = path, where, data
        if not isinstance(data, dict):
            self.fail(f"must be a table, got {type(data).__name__}")
        for key in data:
            if key not in allowed:
                raise VdiError(f"{path}: unknown key '{self._at(key)}'{did_you_mean(key, allowed)}")
        self.allowed = allowed

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, msg: str):
        raise VdiError(f"{self.path}: {self.where or 'top level'}: {msg}")

    def get(self, key: str, default: Any = ...):
        if key not in self.data:
            if default is ...:
                raise VdiError(f"{self.path}: missing required key '{self._at(key)}'")
            return default
        value, want = self.data[key], self.allowed[key]
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            names = want.__name__ if isinstance(want, type) else " or ".join(t.__name__ for t in want)
            raise VdiError(f"{self.path}: '{self._at(key)}' must be {names}, got {type(value).__name__} {value!r}")
        return value


def _items(d: dict) -> tuple:
    return tuple(sorted(flatten(d).items()))


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    raw = read_toml(path, "spec file", "check the table name (`vdi list`)")
    p = str(path)
    if "include" in raw:  # shared base (e.g. the grounding recipe), merged under this spec
        if not isinstance(raw["include"], str) or not raw["include"]:
            raise VdiError(f"{path}: 'include' must be a file name (string), got {raw['include']!r}")
        inc = path.parent / raw.pop("include")
        shared = read_toml(inc, f"file included by {path}", "fix the spec's `include` key")
        raw = _merge(shared, raw)
    top = _Reader(p, "", raw, {
        "id": str, "title": str, "version": int, "task": str, "caption": str, "base": dict,
        "profiles": dict, "metrics": list, "rows": list, "claims": list, "settings_columns": list,
        "outputs": list,
    })
    profiles = {}
    for name, pdata in top.get("profiles", {}).items():
        if name not in PROFILES:
            raise VdiError(f"{p}: unknown profile 'profiles.{name}'{did_you_mean(name, PROFILES)}")
        pr = _Reader(p, f"profiles.{name}", pdata, {"seeds": int, "overrides": dict})
        seeds = pr.get("seeds", 1)
        if seeds < 1:  # 0 seeds would render a table of dashes over a good one
            pr.fail(f"'seeds' must be >= 1, got {seeds}")
        profiles[name] = ProfileDefaults(seeds, _items(pr.get("overrides", {})))
    for name in PROFILES:
        profiles.setdefault(name, ProfileDefaults())

    metrics = []
    for i, m in enumerate(top.get("metrics")):
        r = _Reader(p, f"metrics[{i}]", m, {"id": str, "label": str, "higher_is_better": bool,
                                               "tolerance": float, "decimals": int})
        tolerance, decimals = r.get("tolerance", 1.0), r.get("decimals", 2)
        if not math.isfinite(tolerance) or tolerance < 0:
            r.fail(f"'tolerance' must be a finite number >= 0, got {tolerance}")
        if not 0 <= decimals <= 12:
            r.fail(f"'decimals' must be between 0 and 12, got {decimals}")
        metrics.append(Metric(r.get("id"), r.get("label", r.get("id")), r.get("higher_is_better", True),
                              tolerance, decimals))
    metric_ids = [m.id for m in metrics]

    columns = []
    for i, c in enumerate(top.get("settings_columns", [])):
        r = _Reader(p, f"settings_columns[{i}]", c, {"id": str, "label": str})
        columns.append((r.get("id"), r.get("label", r.get("id"))))
    column_ids = [c for c, _ in columns]

    rows = []
    for i, rd in enumerate(top.get("rows")):
        r = _Reader(p, f"rows[{i}]", rd, {"id": str, "settings": dict, "overrides": dict, "reference": dict,
                                            "bold": list, "profiles": list, "metric_prefix": str, "role": str})
        rid = r.get("id")
        settings = r.get("settings", {})
        for k in settings:
            if k not in column_ids:
                raise VdiError(f"{p}: row '{rid}': setting '{k}' is not a settings column"
                               f"{did_you_mean(k, column_ids)}")
        ref = r.get("reference", {})
        for k, v in ref.items():
            if k not in metric_ids:
                raise VdiError(f"{p}: row '{rid}': reference for unknown metric '{k}'{did_you_mean(k, metric_ids)}")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise VdiError(f"{p}: row '{rid}': reference '{k}' must be a finite number, got {v!r}")
        role = r.get("role", "row")
        if role not in ("row", "reference"):
            raise VdiError(f"{p}: row '{rid}': role must be 'row' or 'reference', got '{role}'")
        row_profiles = tuple(r.get("profiles", list(PROFILES)))
        for prof in row_profiles:
            if prof not in PROFILES:
                raise VdiError(f"{p}: row '{rid}': unknown profile '{prof}'{did_you_mean(prof, PROFILES)}")
        if role == "row" and "paper" in row_profiles:  # every paper cell must carry its reference
            missing = [m for m in metric_ids if m not in ref]
            if missing and top.get("task") != "word_weights":
                raise VdiError(f"{p}: row '{rid}': missing reference value for {', '.join(missing)} "
                               f"(add it under rows[{i}].reference, transcribed from the paper)")
        for b in r.get("bold", []):
            if b not in metric_ids:
                raise VdiError(f"{p}: row '{rid}': bold names unknown metric '{b}'{did_you_mean(b, metric_ids)}")
        rows.append(Row(rid, tuple(settings.items()), _items(r.get("overrides", {})),
                        tuple((k, float(v)) for k, v in ref.items()), tuple(r.get("bold", [])),
                        row_profiles, r.get("metric_prefix", ""), role))
    row_ids = [r.id for r in rows]
    if not metrics or not rows:
        raise VdiError(f"{p}: a spec needs at least one [[metrics]] and one [[rows]] entry")
    if top.get("id") != path.stem:  # `vdi run X` must render tables/<profile>/X.md, not another name
        raise VdiError(f"{p}: id '{top.get('id')}' differs from the file name '{path.stem}'; make them equal")
    if len(set(row_ids)) != len(row_ids):
        raise VdiError(f"{p}: duplicate row ids: {sorted({x for x in row_ids if row_ids.count(x) > 1})}")

    claims = []
    for i, cd in enumerate(top.get("claims", [])):
        r = _Reader(p, f"claims[{i}]", cd, {"id": str, "text": str, "kind": str, "metrics": list, "a": str,
                                              "b": str, "row": str, "among": list, "rows": list,
                                              "margin": float, "value": float})
        kind = r.get("kind")
        if kind not in CLAIM_KINDS:
            raise VdiError(f"{p}: claims[{i}].kind '{kind}' is not a claim kind{did_you_mean(kind, CLAIM_KINDS)}")
        claim = Claim(r.get("id"), r.get("text"), kind, tuple(r.get("metrics")), r.get("a", ""), r.get("b", ""),
                      r.get("row", ""), tuple(r.get("among", [])), tuple(r.get("rows", [])),
                      r.get("margin", 0.0), r.get("value", None))
        _check_claim(p, i, claim, row_ids, metric_ids)
        claims.append(claim)

    return Spec(top.get("id"), top.get("title"), top.get("version"), top.get("task"), top.get("caption", ""),
                tuple(columns), _items(top.get("base", {})), profiles, tuple(metrics), tuple(rows),
                tuple(claims), p, tuple(top.get("outputs", [])))


def _check_claim(p: str, i: int, c: Claim, row_ids: list[str], metric_ids: list[str]) -> None:
    needed = {"greater": ("a", "b"), "max": ("row",), "min": ("row",), "metric_greater": ("rows",),
              "at_least": ("row", "value")}[c.kind]
    for attr in needed:
        if getattr(c, attr) in ("", (), None):
            raise VdiError(f"{p}: claims[{i}] ('{c.id}', kind {c.kind}) needs '{attr}'")
    if c.margin and c.kind != "greater":
        raise VdiError(f"{p}: claims[{i}] ('{c.id}'): 'margin' applies to kind 'greater' only, not '{c.kind}'")
    if c.margin < 0:
        raise VdiError(f"{p}: claims[{i}] ('{c.id}'): margin must be >= 0, got {c.margin:g}")
    if c.value is not None and c.kind != "at_least":
        raise VdiError(f"{p}: claims[{i}] ('{c.id}'): 'value' applies to kind 'at_least' only, not '{c.kind}'")
    if not c.metrics:
        raise VdiError(f"{p}: claims[{i}] ('{c.id}') names no metric; list at least one under 'metrics'")
    for rid in (c.a, c.b, c.row, *c.among, *c.rows):
        if rid and rid not in row_ids:
            raise VdiError(f"{p}: claims[{i}] ('{c.id}') names unknown row '{rid}'{did_you_mean(rid, row_ids)}")
    for m in c.metrics:
        if m not in metric_ids:
            raise VdiError(f"{p}: claims[{i}] ('{c.id}') names unknown metric '{m}'{did_you_mean(m, metric_ids)}")
    if c.kind == "metric_greater" and len(c.metrics) != 2:
        raise VdiError(f"{p}: claims[{i}] ('{c.id}'): metric_greater compares exactly two metrics")


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def experiments_dir() -> Path:
    """experiments/ of this checkout, or $VDI_EXPERIMENTS (a lab's own specs, the tests' toy specs)."""
    return experiments_root()


def spec_path(table: str, experiments: Path | None = None) -> Path:
    return (experiments or experiments_dir()) / f"{table}.toml"


def list_specs(experiments: Path | None = None) -> list[str]:
    d = experiments or experiments_dir()
    return sorted(f.stem for f in d.glob("*.toml") if not f.stem.startswith("_"))


def find_spec(table: str, experiments: Path | None = None) -> Spec:
    names = list_specs(experiments)
    if table not in names:
        raise VdiError(f"unknown table '{table}'{did_you_mean(table, names)}")
    return load_spec(spec_path(table, experiments))
