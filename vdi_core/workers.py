"""Worker processes die with their parent: a killed `vdi run` (or a cancelled Slurm step) must not
leave pool workers of 1 GB each running as orphans. Call `die_with_parent(os.getppid())` first
thing in a worker (the pool initializer does)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def die_with_parent(parent: int) -> None:
    """Linux: the kernel sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG). Everywhere:
    a watchdog thread exits the process once the parent is gone (the parent id changes)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            # 1 = PR_SET_PDEATHSIG. It fires when the *thread* that spawned this worker exits: the
            # pool spawns workers from the thread that calls submit(), the main thread of `vdi run`.
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still covers it
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="vdi-parent-watchdog", daemon=True).start()
