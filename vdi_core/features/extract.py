"""`vdi features extract`: videos -> per-video `.npz` of CLIP frame and patch features (A1, A2).

Per video: decode at `fps` (video.py), run the frozen image tower once
(`vdi_core.towers.image.encode_frames`), write `<vid>.npz` atomically (temp file + os.replace).
A finished video is never recomputed, so a killed run resumes where it stopped; `features.json`
(fingerprint.py) holds the declaration and per-video hashes and is refreshed as videos finish.
A shard (shards.py, `write_fingerprint=False`) writes only its videos' `.npz`: shards run at once,
and features.json is written once, by a run over all videos after the last shard.
Bad videos do not stop the run: they are listed in one error at the end, with nothing written
for them.
"""

from __future__ import annotations

import glob
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datatypes import ModelSpec
from ..errors import VdiError
from ..io import atomic_write_npz
from . import fingerprint as fpr
from .video import decode_at_fps

SAMPLING = "T=floor(D*fps) bin centres (k+0.5)/fps, last frame shown at or before"
PREPROCESS = ("shortest side bicubic+antialias to image_size (torchvision's size arithmetic: long side truncated), "
              "centre crop (torchvision's offsets), mean/std (towers.image.to_model_input)")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov")


@dataclass
class ExtractReport:
    out_dir: Path
    extracted: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # already finished, skipped
    failed: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    seconds: float = 0.0
    frames: int = 0  # frames encoded in this run


def list_videos(videos_dir: Path) -> list[Path]:
    videos_dir = Path(videos_dir)
    if not videos_dir.is_dir():
        raise VdiError(f"--videos {videos_dir} is not a folder; fetch the videos with "
                       "`vdi data fetch charades_videos_480` or point --videos at your copy")
    paths = sorted(p for p in videos_dir.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
    if not paths:
        raise VdiError(f"--videos {videos_dir} holds no video files ({', '.join(VIDEO_EXTENSIONS)})")
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        raise VdiError(f"--videos {videos_dir}: two files share the video id '{dup}'; keep one")
    return paths


def declare(spec: ModelSpec, model, fps: float, patch_frames: int) -> dict:
    """The declared identity of the features this model and these settings produce."""
    from open_clip.transformer import QuickGELU

    from ..towers.image import TRANSFORM_VERSION, image_norm

    mean, std = image_norm(model)
    size = model.visual.image_size
    size = int(size if isinstance(size, int) else size[0])
    return {
        "model": spec.model,
        "config_sha256": fpr.file_sha256(Path(spec.config_path)) if spec.config_path else "",
        "weights_sha256": fpr.file_sha256(Path(spec.weights)) if spec.weights else "random-init",
        "quick_gelu": any(isinstance(m, QuickGELU) for m in model.modules()),
        "preprocess": {"image_size": size, "mean": list(mean), "std": list(std), "how": PREPROCESS},
        # Features of an older transform version are other pixels: never reused (require_compatible,
        # and the paper source expects this version).
        "transform": TRANSFORM_VERSION,
        "fps": float(fps),
        "patch_frames": int(patch_frames),
        "sampling": SAMPLING,
    }


def _record_of(path: Path) -> dict:
    """The fingerprint record of a finished video's .npz (one finished after the last flush of a
    killed run); a damaged one is one line saying to delete it, never a traceback."""
    from .feature_sets import NPZ_ERRORS, load_npz

    fix = "delete it and rerun this command (the video is extracted again)"
    try:
        with np.load(path) as z:
            keys = ["frames", "duration"] + (["patches"] if "patches" in z.files else [])
    except NPZ_ERRORS as e:
        raise VdiError(f"{path}: truncated or unreadable feature file ({type(e).__name__}: {e}); {fix}") from None
    arrays = load_npz(path, keys, fix)
    return {
        "frames": int(arrays["frames"].shape[0]),
        "patch_frames": int(arrays["patches"].shape[0]) if "patches" in arrays else 0,
        "duration": float(arrays["duration"]),
        "sha256": {k: fpr.array_sha256(arrays[k]) for k in ("frames", "patches") if k in arrays},
    }


def _write_npz(path: Path, arrays: dict) -> None:
    atomic_write_npz(path, arrays, compress=False)  # stored members: patches are read one by one


def _clear_stale_tmp(out_dir: Path, vids: list[str]) -> None:
    # Left by a run killed mid-write; never a finished video (those are renamed into place). Only
    # this run's videos: another shard may be writing its own right now.
    for vid in vids:
        for tmp in out_dir.glob(f".{glob.escape(vid)}.npz.*.tmp.npz"):
            tmp.unlink(missing_ok=True)


def _check_weights(spec: ModelSpec) -> None:
    if spec.weights and not Path(spec.weights).expanduser().is_file():
        raise VdiError(f"weights file {spec.weights} not found; get the OpenAI weights with "
                       "`vdi data fetch clip_weights` (then --pretrained openai) or pass an existing file")
    if spec.config_path and not Path(spec.config_path).is_file():
        raise VdiError(f"model config {spec.config_path} not found; check --model-config")


def extract_features(video_paths: list[Path], out_dir: Path, spec: ModelSpec, *, fps: float = 3.0,
                     patch_frames: int = 32, batch_size: int = 64, device: str = "cpu",
                     progress: bool = True, log=print, flush_every: float = 30.0,
                     write_fingerprint: bool = True) -> ExtractReport:
    from ..towers.clip import load_clip
    from ..towers.image import encode_frames

    if fps <= 0 or patch_frames < 0 or batch_size < 1:
        raise VdiError(f"need fps > 0, patch_frames >= 0, batch_size >= 1 (got {fps}, {patch_frames}, {batch_size})")
    _check_weights(spec)
    out_dir = Path(out_dir)
    model, _, _ = load_clip(spec, device=device)
    declared = declare(spec, model, fps, patch_frames)
    stored = fpr.require_compatible(out_dir, declared)  # before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    if not write_fingerprint:
        fpr.claim(out_dir, declared)
    _clear_stale_tmp(out_dir, [p.stem for p in video_paths])
    records: dict = dict(stored["videos"]) if stored else {}
    report = ExtractReport(out_dir)
    todo = []
    for path in video_paths:
        vid, target = path.stem, out_dir / f"{path.stem}.npz"
        if target.is_file():
            report.resumed.append(vid)
            if vid not in records and write_fingerprint:  # finished after the last flush of a killed run
                records[vid] = _record_of(target)
        else:
            todo.append(path)
    flush = fpr.write if write_fingerprint else (lambda *_: "")
    flush(out_dir, declared, records)

    from tqdm import tqdm

    start, last_flush = time.perf_counter(), time.perf_counter()
    try:
        for path in tqdm(todo, desc="extract", unit="video", disable=not progress):
            vid = path.stem
            try:
                decoded = decode_at_fps(path, fps)
            except VdiError as e:
                report.failed[vid] = str(e)
                continue
            frames, patches = encode_frames(model, decoded.frames, patch_frames=patch_frames,
                                            batch_size=batch_size, device=device)
            arrays = {"frames": frames, "times": decoded.times, "duration": np.float64(decoded.duration),
                      "fps": np.float64(fps)}
            if patches is not None:
                arrays["patches"] = patches
            _write_npz(out_dir / f"{vid}.npz", arrays)
            records[vid] = {"frames": int(frames.shape[0]),
                            "patch_frames": int(patches.shape[0]) if patches is not None else 0,
                            "duration": float(decoded.duration),
                            "sha256": {k: fpr.array_sha256(arrays[k]) for k in ("frames", "patches") if k in arrays}}
            report.extracted.append(vid)
            report.frames += int(frames.shape[0])
            if time.perf_counter() - last_flush > flush_every:
                flush(out_dir, declared, records)
                last_flush = time.perf_counter()
    finally:  # also on Ctrl-C: what finished is recorded, the rest resumes next time
        report.fingerprint = flush(out_dir, declared, records)
        report.seconds = time.perf_counter() - start
    if report.failed:
        listed = "; ".join(f"{v}: {m}" for v, m in sorted(report.failed.items()))
        raise VdiError(f"{len(report.failed)} of {len(video_paths)} videos could not be decoded, nothing was "
                       f"written for them ({listed}). Fix or re-download them and rerun: finished videos are kept")
    log(f"features: {len(report.extracted)} extracted, {len(report.resumed)} already done, "
        f"{report.frames} frames in {report.seconds:.1f} s -> {out_dir}")
    return report
