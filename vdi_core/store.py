"""The run store: one JSON per (resolved config, seed) under results/<profile>/<key>.json.

The key is a hash of everything that determines the numbers (task + its version, code version,
profile, seed, resolved config, data/feature fingerprints), so the same row appearing in several
tables runs once, and a changed input never reuses a stale result. Writes are atomic
(tmp file + os.replace): a killed write leaves the old file or none, never half a JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import VdiError
from .io import atomic_write_json
from .paths import REPO_ROOT


def canonical_json(obj: Any) -> str:
    """Stable text for hashing: sorted keys, no whitespace; key order in specs never matters."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def run_key(identity: dict) -> str:
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:20]


# What every stored record must hold (key -> type), checked on load.
RECORD_FIELDS = {"key": str, "task": str, "profile": str, "seed": int, "config": dict, "metrics": dict,
                 "curves": dict, "extra": dict, "provenance": dict}
PROVENANCE_FIELDS = {"device": str, "assumptions": list, "packages": dict, "git_commit": str, "finished": str}


def validate_record(rec, key: str, path: Path) -> dict:
    fix = "delete it and rerun the row"

    def bad(what: str):
        raise VdiError(f"result file {path} has the wrong shape ({what}); {fix}")

    if not isinstance(rec, dict):
        bad(f"a JSON {type(rec).__name__}, not an object")
    for name, want in RECORD_FIELDS.items():
        if not isinstance(rec.get(name), want) or isinstance(rec.get(name), bool):
            bad(f"'{name}' missing or not a {want.__name__}")
    for name, want in PROVENANCE_FIELDS.items():
        if not isinstance(rec["provenance"].get(name), want):
            bad(f"'provenance.{name}' missing or not a {want.__name__}")
    if rec["key"] != key:
        bad(f"it holds key {rec['key']}, its name says {key}")
    for m, v in rec["metrics"].items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            bad(f"metric '{m}' is {v!r}, not a number")
    return rec


class RunStore:
    def __init__(self, root: Path, profile: str):
        self.root = Path(root)
        self.profile = profile
        self.dir = self.root / profile

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def load(self, key: str) -> dict | None:
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise VdiError(f"result file {p} is corrupt ({e}); delete it and rerun the row") from None
        except OSError as e:
            raise VdiError(f"cannot read result file {p} ({e.strerror}); check its permissions") from None
        return validate_record(rec, key, p)

    def save(self, key: str, record: dict) -> Path:
        """Write a record atomically; a read-only or full disk is one VdiError (that row fails)."""
        p = self.path(key)
        try:
            atomic_write_json(p, record)
        except OSError as e:
            raise VdiError(f"cannot save the result {p} ({e.strerror or e}); free space or make "
                           f"{self.dir} writable, then rerun (finished rows are kept)") from None
        return p

    def lock_path(self, key: str) -> Path:
        """The run key's lock file (vdi_core/locks.py): one process runs a key at a time."""
        return self.dir / "locks" / f"{key}.lock"

    def artifact_dir(self, key: str) -> Path:
        """Files a finished run produced besides its metrics (e.g. a figure)."""
        return self.dir / "artifacts" / key

    def work_dir(self, key: str) -> Path:
        """Scratch for an unfinished run (per-epoch checkpoints); kept until the run succeeds."""
        return self.dir / "work" / key


# --- provenance -------------------------------------------------------------------------------


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=5)
        # the rendered tables are outputs, not inputs: `vdi run premise` then `vdi run all` on a clean
        # checkout would otherwise mark every run of the second command "+dirty"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!tables"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return "unknown"
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("torch", "open_clip_torch", "numpy", "spacy", "transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        try:
            import torch

            return f"{device} ({torch.cuda.get_device_name(device)})"
        except Exception:  # noqa: BLE001 - provenance must never break a finished run
            return device
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


@lru_cache(maxsize=1)  # one machine, one kind: read /proc/cpuinfo once per process
def cpu_kind() -> str:
    """What decides which CPU kernels run, and so the low bits of every mini number: the architecture,
    the vendor and family/model (MKL and oneDNN dispatch on them) and the instruction set ATen
    dispatches to. Two machines of one kind give the same numbers bit for bit; across kinds the
    micro-CLIPs themselves differ (README, "Budgets"), so the golden file is stamped with one."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                name, _, value = line.partition(":")
                name = name.strip()
                if name in ("vendor_id", "cpu family", "model") and name not in fields:
                    fields[name] = value.strip()
                if not line.strip() and fields:
                    break  # the first processor's block is enough
    except OSError:
        pass
    try:
        import torch

        isa = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001 - provenance must never break a finished run
        isa = "unknown"
    vendor = fields.get("vendor_id", platform.processor() or "unknown")
    return (f"{platform.machine()} {vendor} family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')}, torch {isa}")


def device_kind(device: str) -> str:
    """"cuda" or "cpu" for a device argument ("cuda:1") or a recorded device name ("cpu (x86_64, 2 cores)").
    The kind is part of every run key: bf16 on a GPU gives other numbers than fp32 on a CPU."""
    return "cuda" if device.startswith("cuda") else "cpu"


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
