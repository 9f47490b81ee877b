"""The import graph of vdi_core: declared layers point down, and no two parts import each other.

A "part" is a subpackage (grounding, vdi, towers, ...) or a top-level module (runner, store, ...).
Every import counts, also one inside a function (a lazy import still ties the two parts together);
only imports under `if TYPE_CHECKING:` (annotations) are left out. Run it with
`pytest tests/test_layers.py`; a failure names the offending file and import.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "vdi_core"

# Top to bottom. A part may import parts of lower layers only (never its own layer's others).
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("commands",),  # the subcommands: parse arguments, call what is below
    ("executors", "check"),  # where runs execute (local pool, Slurm); the regression check
    ("runner", "render", "progress_local"),  # plan -> key -> run -> store; tables; the live display
    ("claims", "jobs", "progress"),  # verdicts with intervals; run states; progress bars
    ("tasks",),  # grounding, probe, word_weights: Config, run, fingerprint, prebuild
    ("mini", "data"),  # the data sources of the two profiles (toy world; real annotations + features)
    ("grounding", "features"),  # MMN and its trainer; video feature extraction and stores
    ("vdi", "towers", "predictions"),  # VDI's queries and injection losses; text / image towers
    ("metrics", "stats", "sources", "spec", "resolve", "gpu_slots", "workers", "locks", "store", "pos_tagger"),
    ("backbones", "prediction_checks", "recall", "io", "paths", "context", "datatypes"),
    ("registry",),
    ("errors", "__init__"),
]
LAYER_OF = {part: i for i, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """'vdi_core.grounding.trainer' -> 'grounding'; 'vdi_core.runner' -> 'runner'; 'vdi_core' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_of(path: Path) -> tuple[str, str]:
    rel = path.relative_to(PKG.parent).with_suffix("")
    name = ".".join(rel.parts)
    if name.endswith(".__init__"):
        name = name[: -len(".__init__")]
        return name, name
    return name, name.rsplit(".", 1)[0]


def _resolves(module: str) -> bool:
    rel = Path(*module.split("."))
    return (PKG.parent / rel).with_suffix(".py").is_file() or (PKG.parent / rel / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every vdi_core import in the file, TYPE_CHECKING blocks left out."""
    name, package = _module_of(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    out = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from . import x`: x is a module when a file says so, else a name in the package
            subs = [f"{target}.{a.name}" for a in node.names if _resolves(f"{target}.{a.name}")]
            out += [(node.lineno, m) for m in (subs or [target])]
    return [(line, m) for line, m in out if m == "vdi_core" or m.startswith("vdi_core.")]


def _edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PKG.rglob("*.py")):
        name, _ = _module_of(path)
        for line, target in _imports(path):
            src, dst = _part(name), _part(target)
            if src != dst:
                edges.setdefault((src, dst), []).append(f"{path.relative_to(PKG.parent)}:{line} imports {target}")
    return edges


def test_every_part_has_a_layer():
    parts = {_part(_module_of(p)[0]) for p in PKG.rglob("*.py")}
    assert sorted(parts - set(LAYER_OF)) == [], "add the new module or package to LAYERS in tests/test_layers.py"
    assert sorted(set(LAYER_OF) - parts) == [], "LAYERS names a part that no longer exists"


def test_layers_point_down():
    upward = [f"{where} ({src}, layer {LAYER_OF[src]} -> {dst}, layer {LAYER_OF[dst]})"
              for (src, dst), wheres in sorted(_edges().items()) if LAYER_OF[dst] <= LAYER_OF[src]
              for where in wheres]
    assert upward == []


def test_no_import_cycle_between_parts():
    graph: dict[str, set[str]] = {}
    for src, dst in _edges():
        graph.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [node, nxt]) if nxt in stack
                              else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


def test_the_checker_resolves_imports():
    """The parser resolves relative imports (and `from . import module`) to the right part."""
    pkg = PKG
    name, package = _module_of(pkg / "vdi" / "injection.py")
    assert (name, package) == ("vdi_core.vdi.injection", "vdi_core.vdi")
    found = dict((m, line) for line, m in _imports(pkg / "tasks" / "grounding.py"))
    assert "vdi_core.grounding.config" in found and "vdi_core.context" in found
    assert "vdi_core.predictions" in found  # `from .. import predictions`, inside a function
    assert all(not m.startswith("vdi_core.grounding") for m in dict(
        (m, 0) for _, m in _imports(pkg / "vdi" / "injection.py")))  # its grounding import is TYPE_CHECKING only
