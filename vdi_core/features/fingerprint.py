"""Identity of a feature set: what was declared (model, weights, preprocessing, sampling) and
what was produced (per-video array hashes). Stored as `features.json` beside the `.npz` files.

The declared part decides compatibility: features extracted with another fps, other weights or
QuickGELU off are a different feature set, and mixing them is an error, never a silent reuse.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import VdiError
from ..io import atomic_write_text

FORMAT = 1
FILENAME = "features.json"


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
    stored = read(out_dir)
    if stored is not None:
        diff = mismatches(stored["declared"], declared)
        if diff:
            raise VdiError(f"{Path(out_dir) / FILENAME}: these features were extracted with other settings "
                           f"({'; '.join(diff)}); use another --out folder, or delete this one to re-extract")
    return stored


def write(out_dir: Path, declared: dict, videos: dict) -> str:
    """Atomically (re)write features.json; returns the combined fingerprint."""
    fp = combined(declared, videos)
    path = Path(out_dir) / FILENAME
    atomic_write_text(path, json.dumps({"format": FORMAT, "declared": declared, "videos": videos,
                                        "fingerprint": fp}, indent=1, sort_keys=True))
    return fp
