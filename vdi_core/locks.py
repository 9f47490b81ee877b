"""One lock per run key (and per mini cache entry), across processes.

`key_lock(path)` holds an exclusive `fcntl.flock` on `path` (created if missing) for the body of a
`with`. The kernel drops the lock when the holder exits, however it dies, so a killed run never
leaves a stale lock behind; the lock file itself stays (it is empty and harmless).

Across nodes: flock works on a shared filesystem only where that filesystem supports it (NFSv4,
Lustre mounted with `flock`, BeeGFS, GPFS do; NFSv3 without lockd and Lustre's `localflock` do not:
there each node only sees its own locks). Point VDI_RESULTS at such a filesystem before running one
table from several nodes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import VdiError


@contextlib.contextmanager
def key_lock(path: Path, on_wait=None) -> Iterator[None]:
    """Exclusive lock on `path` for the `with` body; blocks while another process holds it.
    `on_wait()` is called once, before blocking, when the lock is taken by someone else."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask decides the mode
    except OSError as e:
        raise VdiError(f"cannot create the lock file {path} ({e.strerror}); make {path.parent} writable") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:  # ENOLCK: a filesystem without flock support
            raise VdiError(f"cannot lock {path} ({e.strerror}); this filesystem does not support flock, "
                           f"put VDI_RESULTS / VDI_CACHE on one that does") from None
        yield
    finally:
        os.close(fd)  # releases the lock
