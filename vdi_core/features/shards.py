"""`vdi features extract --shards N [--shard K]`: the video list cut into N disjoint shards.

Shard K holds the videos at positions K, K+N, K+2N, ... of the list sorted by video id (round
robin: neighbouring ids, often one source's videos of similar length, spread over all shards, so
the shards take about the same time). The cut depends only on the ids and N, so every node and
every rerun cuts the same way.

A shard writes only its own videos' `.npz` (extract.py, `write_fingerprint=False`); `features.json`
is written once, by a run over all videos after the last shard: on Slurm the finishing job
(executors/features_slurm.py), locally `vdi features extract` without --shard.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import VdiError


def check_shards(n: int, k: int | None = None) -> None:
    if n < 1:
        raise VdiError(f"--shards {n}: need at least 1 shard")
    if k is not None and not 0 <= k < n:
        raise VdiError(f"--shard {k} is out of range for --shards {n}: use 0..{n - 1}")


def shard_videos(paths: list[Path], n: int, k: int) -> list[Path]:
    check_shards(n, k)
    return sorted(paths, key=lambda p: p.stem)[k::n]


def missing_videos(paths: list[Path], out_dir: Path) -> list[Path]:
    """The videos without a finished `.npz` (a temp file of a killed write does not count)."""
    return [p for p in paths if not (Path(out_dir) / f"{p.stem}.npz").is_file()]


def fingerprint_complete(paths: list[Path], out_dir: Path) -> bool:
    """features.json lists every video (it is written once all are present)."""
    from . import fingerprint as fpr

    stored = fpr.read(out_dir)
    return stored is not None and all(p.stem in stored["videos"] for p in paths)
