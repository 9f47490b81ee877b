"""Identity of a feature set: what was declared (model, weights, preprocessing, sampling) and
what was produced (per-video array hashes). Stored as `features.json` beside the `.npz` files.

The declared part decides compatibility: features extracted with another fps, other weights or
QuickGELU off are a different feature set, and mixing them is an error, never a silent reuse.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import VdiError
from ..io import atomic_write_text

FORMAT = 1
FILENAME = "features.json"
# Shards write no features.json (concurrent writers would drop each other's records); the first
# shard leaves its declaration here, so that a shard run with other settings is refused.
PENDING = ".features.declared.json"


def array_sha256(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def combined(declared: dict, videos: dict) -> str:
    """One hash over the declaration and every video's record (order-independent)."""
    blob = json.dumps({"declared": declared, "videos": videos}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def mismatches(stored: dict, declared: dict) -> list[str]:
    """Human-readable differences 'key: stored X, now Y' between two declarations."""
    keys = sorted(set(stored) | set(declared))
    return [f"{k}: stored {stored.get(k)!r}, now {declared.get(k)!r}" for k in keys if stored.get(k) != declared.get(k)]


def read(out_dir: Path) -> dict | None:
    path = Path(out_dir) / FILENAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise VdiError(f"{path}: unreadable fingerprint ({type(e).__name__}); delete the feature folder and "
                       "extract again") from None
    if (not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("declared"), dict)
            or not isinstance(data.get("videos"), dict) or not isinstance(data.get("fingerprint"), str)):
        raise VdiError(f"{path}: not a feature fingerprint of format {FORMAT}; delete the folder and extract again")
    return data


def require_compatible(out_dir: Path, declared: dict) -> dict | None:
    """The stored fingerprint, after checking that it declares the same features as `declared`."""
    _check_pending(Path(out_dir), declared)
    stored = read(out_dir)
    if stored is not None:
        diff = mismatches(stored["declared"], declared)
        if diff:
            raise VdiError(f"{Path(out_dir) / FILENAME}: these features were extracted with other settings "
                           f"({'; '.join(diff)}); use another --out folder, or delete this one to re-extract")
    return stored


def write(out_dir: Path, declared: dict, videos: dict) -> str:
    """Atomically (re)write features.json; returns the combined fingerprint. It supersedes a
    shard's pending declaration (features.json's own declaration guards the folder from now on)."""
    fp = combined(declared, videos)
    path = Path(out_dir) / FILENAME
    atomic_write_text(path, json.dumps({"format": FORMAT, "declared": declared, "videos": videos,
                                        "fingerprint": fp}, indent=1, sort_keys=True))
    (Path(out_dir) / PENDING).unlink(missing_ok=True)
    return fp


def claim(out_dir: Path, declared: dict) -> None:
    """A shard's check-in: the first shard's declaration is created exclusively (a hard link of a
    complete temp file, so a reader never sees half of it); every later shard must declare the same."""
    out_dir = Path(out_dir)
    path = out_dir / PENDING
    if not path.is_file():
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".declared.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(declared, f, sort_keys=True)
        try:
            os.link(tmp, path)
        except FileExistsError:  # another shard was first: compared below
            pass
        finally:
            os.unlink(tmp)
    _check_pending(out_dir, declared)


def _check_pending(out_dir: Path, declared: dict) -> None:
    path = out_dir / PENDING
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise VdiError(f"{path}: unreadable shard declaration ({type(e).__name__}); delete it and rerun") from None
    diff = mismatches(stored, declared) if isinstance(stored, dict) else ["not a declaration"]
    if diff:
        raise VdiError(f"{path}: other shards of this folder were extracted with other settings "
                       f"({'; '.join(diff)}); run every shard with the same flags, or use another --out folder")
