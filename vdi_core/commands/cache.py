"""`vdi cache info|clear`: the mini profile's cache of generated frames, weights and features.

The cache lives in $VDI_CACHE, else `<repo>/.cache`; each generating config has its own folder
`mini/<key>/`, so `info` shows which one the current world.toml uses and `clear --stale` drops
the others.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _current_keys() -> set[str]:
    """Folder names the current world.toml uses (its videos/features and its models)."""
    from ..mini.build import MiniBuild

    build = MiniBuild(Path("/nonexistent"), log=lambda s: None)
    return {build.key, f"models-{build.model_key}"}


def _entries(cache_dir: Path) -> list[Path]:
    root = cache_dir / "mini"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def cache_info(args) -> int:
    cache_dir = Path(args.cache_dir)
    current = _current_keys()
    entries = _entries(cache_dir)
    print(f"cache: {cache_dir} (current: {', '.join(sorted(current))})")
    if not entries:
        print("  empty: the first mini run builds the world, the micro-CLIPs and the features")
        return 0
    total = 0
    for entry in entries:
        size = _size(entry)
        total += size
        mark = "current" if entry.name in current else "stale"
        print(f"  mini/{entry.name}  {size / 2**20:8.1f} MB  {mark}")
        info = entry / "build.json"
        built = json.loads(info.read_text()).get("built", {}) if info.exists() else {}
        for what, rec in sorted(built.items()):
            print(f"      {what:<40} {rec['seconds']:7.1f} s  {rec['at']}")
    print(f"  total {total / 2**20:.1f} MB")
    return 0


def cache_clear(args) -> int:
    cache_dir = Path(args.cache_dir)
    current = _current_keys()
    doomed = [e for e in _entries(cache_dir) if not (args.stale and e.name in current)]
    for entry in doomed:
        shutil.rmtree(entry)
        print(f"removed mini/{entry.name}")
    if not doomed:
        print("nothing to remove")
    return 0


def register(subparsers) -> None:
    from ..mini.build import default_cache_dir

    p = subparsers.add_parser("cache", help="inspect or clear the mini profile's generated-data cache")
    sub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    for name, fn, text in (("info", cache_info, "list cached worlds, their sizes and build times"),
                           ("clear", cache_clear, "delete cached worlds (rebuilt on the next run)")):
        q = sub.add_parser(name, help=text)
        q.add_argument("--cache-dir", default=str(default_cache_dir()),
                       help="cache directory (default: $VDI_CACHE or <repo>/.cache)")
        if name == "clear":
            q.add_argument("--stale", action="store_true", help="keep the current world, remove the others")
        q.set_defaults(func=fn)

