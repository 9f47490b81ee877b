"""One node, many GPUs: `vdi run --executor local --gpus 0,1,2,3 [--runs-per-gpu K]`.

Each GPU gets K slots; a run takes a free slot and runs in a pool worker with the slot's device
string ("cuda:2"), so at most K runs share a GPU at any time. A paper row needs about 4 GiB of an
80-140 GiB card, so K > 1 packs small runs onto one GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, wait

from .errors import VdiError


def parse_gpus(text: str) -> list[int]:
    """"0,1,3" -> [0, 1, 3]; one line on anything else."""
    try:
        ids = [int(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise VdiError(f"--gpus {text!r}: give GPU indices separated by commas, e.g. --gpus 0,1,2,3") from None
    if not ids or any(i < 0 for i in ids) or len(set(ids)) != len(ids):
        raise VdiError(f"--gpus {text!r}: give distinct GPU indices >= 0 separated by commas, e.g. --gpus 0,1")
    return ids


def device_slots(gpus: list[int], runs_per_gpu: int) -> list[str]:
    """The worker slots, interleaved over GPUs so that the first runs spread over all cards:
    [0, 1], K=2 -> cuda:0, cuda:1, cuda:0, cuda:1."""
    if runs_per_gpu < 1:
        raise VdiError(f"--runs-per-gpu must be at least 1, got {runs_per_gpu}")
    return [f"cuda:{g}" for _ in range(runs_per_gpu) for g in gpus]


def dispatch_pinned(pool: Executor, items: Iterable, slots: list[str],
                    call: Callable[[object, str], tuple]) -> Iterator[tuple[object, str, object]]:
    """Run `fn(*args)` for (fn, *args) = call(item, device) with each item on a free slot's device;
    a slot is given to the next item only once its run finished. Yields (item, device, result)."""
    pending = list(items)
    free = list(slots)
    running = {}
    while pending or running:
        while pending and free:
            item, device = pending.pop(0), free.pop(0)
            fn, *args = call(item, device)
            running[pool.submit(fn, *args)] = (item, device)
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for fut in done:
            item, device = running.pop(fut)
            free.append(device)
            yield item, device, fut.result()
