"""Atomic file writes, in one place: every result, table, checkpoint, feature file and cache entry.

A file is written under a unique temporary name next to its final one (`mkstemp`: two writers of
one path never share a temp file), given the mode `open()` would give (0666 less the umask;
`mkstemp` alone gives 0600, which would lock a lab's shared store or cache to one user), then
renamed into place with `os.replace`. A killed write leaves the old file or none, never half of one,
plus at most a `.<name>.*.tmp` file that readers ignore.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def default_mode() -> int:
    """0666 less the process umask: what open() would give; mkstemp alone gives 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a unique temporary path beside `path`; on a clean exit it becomes `path` (with the
    umask's mode), on an exception it is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, write: Callable[[Path], Any], suffix: str = ".tmp") -> None:
    """`write(tmp_path)` fills the file (torch.save, savefig, PIL's save, ...); then it is renamed."""
    with atomic_path(path, suffix) as tmp:
        write(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_json(path: Path, obj: Any, indent: int | None = 1) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True, allow_nan=False) + "\n")


def atomic_copy(src: Path, path: Path) -> None:
    atomic_write(path, lambda tmp: shutil.copyfile(src, tmp))


def atomic_write_npz(path: Path, arrays: dict, compress: bool = True) -> None:
    """An .npz `np.load` reads, written byte-for-byte reproducibly: `np.savez` stamps the clock into
    the zip entries, so the same arrays would get another sha256 on every write. `compress=False`
    stores the members as `np.savez` does (cheap to read back member by member)."""
    import numpy as np  # here, not at the top: `vdi --help` reads JSON through this module

    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(path, ".tmp.npz") as tmp, zipfile.ZipFile(tmp, "w", compression=method) as z:
        for name, value in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, buf.getvalue())


class DuplicateKey(Exception):
    """A JSON object names a key twice (raised by `unique_keys`)."""


def unique_keys(pairs):
    """json `object_pairs_hook`: a key given twice is an error, not "the last one wins" (which
    silently changes a metric when a query or video id is repeated)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj
