"""The data manifest (`data_manifest/manifest.toml`): what the paper profile needs and how to check it.

One entry per artefact (annotation file, metadata csv, video archive, feature file, weights).
Loading validates every field, so a typo in the manifest fails at once with the entry named,
not later in a download. Hashing and the data root live here too; downloads are in `fetch.py`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import VdiError, did_you_mean, read_toml
from ..paths import REPO_ROOT

MANIFEST_PATH = REPO_ROOT / "data_manifest" / "manifest.toml"

_REQUIRED = ("group", "title", "path", "urls", "license", "fetch")
_OPTIONAL = ("sha256", "git_blob", "size", "records", "unpack", "instructions")
_HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "git_blob": re.compile(r"^[0-9a-f]{40}$")}


@dataclass(frozen=True)
class Artefact:
    name: str
    group: str
    title: str
    path: str  # relative to the data root
    urls: tuple[str, ...]
    license: str
    fetch: str  # "auto" | "manual"
    sha256: str = ""
    git_blob: str = ""
    size: int | None = None
    records: dict[str, int] = field(default_factory=dict)
    unpack: str = ""
    instructions: str = ""

    def location(self, root: Path) -> Path:
        return Path(root) / self.path

    @property
    def fetch_command(self) -> str:
        if self.fetch == "manual":
            return f"download by hand: {self.instructions} (source: {self.urls[0]})"
        return f"vdi data fetch {self.name}"


def _validate(name: str, raw: dict, source: Path) -> Artefact:
    where = f"{source}: [artefact.{name}]"
    unknown = set(raw) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        key = sorted(unknown)[0]
        raise VdiError(f"{where}: unknown key '{key}'{did_you_mean(key, _REQUIRED + _OPTIONAL)}")
    for key in _REQUIRED:
        if key not in raw:
            raise VdiError(f"{where}: missing required key '{key}'")
    if raw["fetch"] not in ("auto", "manual"):
        raise VdiError(f"{where}: fetch must be \"auto\" or \"manual\", got {raw['fetch']!r}")
    if raw["fetch"] == "manual" and not raw.get("instructions"):
        raise VdiError(f"{where}: a manual artefact needs 'instructions' saying how to get it")
    if not isinstance(raw["urls"], list) or not raw["urls"]:
        raise VdiError(f"{where}: 'urls' must be a non-empty list")
    for key, pattern in _HEX.items():
        if key in raw and not pattern.match(raw[key]):
            raise VdiError(f"{where}: '{key}' is not a lower-case hex digest of the right length: {raw[key]!r}")
    if Path(raw["path"]).is_absolute() or ".." in Path(raw["path"]).parts:
        raise VdiError(f"{where}: 'path' must be relative to the data root, got {raw['path']!r}")
    if raw.get("unpack", "") not in ("", "zip"):
        raise VdiError(f"{where}: unpack must be \"zip\" if given, got {raw['unpack']!r}")
    records = raw.get("records", {})
    if not all(isinstance(v, int) and v >= 0 for v in records.values()):
        raise VdiError(f"{where}: 'records' values must be non-negative integers")
    return Artefact(name=name, **{**raw, "urls": tuple(raw["urls"]), "records": dict(records)})


@lru_cache(maxsize=4)
def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Artefact]:
    path = Path(path)
    raw = read_toml(path, "data manifest", "restore data_manifest/ from the repository")
    entries = raw.get("artefact", {})
    if not entries:
        raise VdiError(f"{path}: no [artefact.NAME] tables")
    arts = {name: _validate(name, entry, path) for name, entry in entries.items()}
    paths = [a.path for a in arts.values()]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise VdiError(f"{path}: two artefacts share the path {dup!r}")
    return arts


def select(names: list[str], manifest: dict[str, Artefact] | None = None) -> list[Artefact]:
    """Artefacts by name or group name (`charades_cg` means its four files)."""
    manifest = manifest or load_manifest()
    groups = {a.group for a in manifest.values()}
    out: list[Artefact] = []
    for name in names:
        if name in manifest:
            out.append(manifest[name])
        elif name in groups:
            out.extend(a for a in manifest.values() if a.group == name)
        else:
            raise VdiError(f"unknown artefact or group '{name}'{did_you_mean(name, set(manifest) | groups)}; "
                           "see `vdi data status`")
    return out


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob id) of a file in one read; the blob id lets us check files whose
    only published identity is a git blob (e.g. the two annotation files not stored here)."""
    size = path.stat().st_size
    sha, blob = hashlib.sha256(), hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
            blob.update(chunk)
    return sha.hexdigest(), blob.hexdigest()


def check(art: Artefact, root: Path) -> tuple[str, str]:
    """(state, detail) with state one of verified | missing | unhashed | mismatch."""
    path = art.location(root)
    if not path.is_file():
        return "missing", f"{path} not found; get it with: {art.fetch_command}"
    if art.size is not None and path.stat().st_size != art.size:
        return "mismatch", (f"{path} has {path.stat().st_size} bytes, expected {art.size}; "
                            f"delete it and run: {art.fetch_command}")
    if not (art.sha256 or art.git_blob):
        return "unhashed", f"{path} present; the manifest pins no checksum for it"
    sha, blob = file_digests(path)
    if art.sha256 and sha != art.sha256:
        return "mismatch", (f"{path} sha256 {sha[:12]}… != expected {art.sha256[:12]}…; "
                            f"delete it and run: {art.fetch_command}")
    if art.git_blob and not art.sha256 and blob != art.git_blob:
        return "mismatch", (f"{path} git blob {blob[:12]}… != expected {art.git_blob[:12]}…; "
                            f"delete it and run: {art.fetch_command}")
    return "verified", str(path)
