"""Read extracted feature sets: CLIP `.npz` folders (extract.py) and 2D-TAN's VGG HDF5 file."""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VdiError
from . import fingerprint as fpr

# What np.load raises on a truncated or damaged .npz: a cut-off zip directory (BadZipFile), a member
# cut short (EOFError, zlib.error), a header it cannot parse (ValueError), or a read error (OSError).
NPZ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, ValueError, OSError, KeyError)


def load_npz(path: Path, keys, fix: str) -> dict[str, np.ndarray]:
    """The arrays `keys` of an .npz (others ignored; an absent key is an error), read in full so
    a file truncated inside a member fails here, as one line naming the file and `fix`."""
    try:
        with np.load(path) as z:
            absent = [k for k in keys if k not in z.files]
            if absent:
                raise VdiError(f"{path}: no array {', '.join(map(repr, absent))} (has {', '.join(z.files) or 'none'}); "
                               f"{fix}")
            return {k: z[k] for k in keys}
    except FileNotFoundError:
        raise VdiError(f"{path} not found; {fix}") from None
    except NPZ_ERRORS as e:
        raise VdiError(f"{path}: truncated or unreadable feature file ({type(e).__name__}: {e}); {fix}") from None


def check_features(a: np.ndarray, path: Path, key: str, ndim: int, fix: str, dim: int | None = None) -> np.ndarray:
    """A feature array of `ndim` dimensions, a floating dtype, finite values and (when given) last
    axis `dim`, as float32; anything else is one line naming the file and the array."""
    where = f"{path}: array '{key}'"
    if a.dtype.kind != "f":
        raise VdiError(f"{where} has dtype {a.dtype}, expected floating-point features; {fix}")
    if a.ndim != ndim or (dim is not None and a.shape[-1] != dim) or 0 in a.shape[1:]:
        want = f"{ndim} dimensions" + (f" ending in {dim}" if dim is not None else "")
        raise VdiError(f"{where} has shape {a.shape}, expected {want}; {fix}")
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0].tolist()
        raise VdiError(f"{where} holds NaN/inf values (first at index {bad}); {fix}")
    return a.astype(np.float32, copy=False)


def check_video_count(count: int, vids: list[str], path: Path, fix: str) -> None:
    """A stacked feature file must hold one entry per video (in order): name the ones it lacks."""
    if count < len(vids):
        missing = vids[count:]
        raise VdiError(f"{path}: features of {count} videos for {len(vids)} videos; missing {len(missing)} "
                       f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); {fix}")
    if count > len(vids):
        raise VdiError(f"{path}: features of {count} videos for {len(vids)} videos; the file belongs to "
                       f"another set of videos; {fix}")


class LazyPatches:
    """A video's patch features, read from its .npz whenever they are used (`np.asarray`) and never
    kept. They are needed once per query, for the spatial dynamic feature; held in memory they would
    take 32 x 49 x 512 float32 = 3.2 MB per video, ~21 GB for Charades-STA's training split."""

    def __init__(self, path: Path):
        self.path = path

    def __array__(self, dtype=None, copy=None):
        # Checked on every read: the file may have been replaced since the video was opened.
        a = load_npz(self.path, ["patches"], REEXTRACT)["patches"]
        return check_features(a, self.path, "patches", 3, REEXTRACT).astype(dtype or np.float32, copy=False)

    def __repr__(self) -> str:
        return f"LazyPatches({self.path})"


@dataclass
class VideoFeatures:
    frames: np.ndarray  # [T, D] float32
    patches: np.ndarray | LazyPatches | None  # [T', P, D] float32 once np.asarray'd
    duration: float  # decoded video length in seconds (None-free: VGG uses the annotation's)


REEXTRACT = "delete it and rerun `vdi features extract` for its folder (it resumes)"


class ClipFeatureSet:
    """A folder written by `vdi features extract`; checks the declaration on open."""

    def __init__(self, folder: Path, expect: dict | None = None):
        self.folder = Path(folder)
        data = fpr.read(self.folder)
        if data is None:
            raise VdiError(f"{self.folder}: no {fpr.FILENAME}; extract the features first (vdi features extract)")
        if expect:
            diff = fpr.mismatches({k: data["declared"].get(k) for k in expect}, expect)
            if diff:
                raise VdiError(f"{self.folder}: stored features do not match the run's declared features "
                               f"({'; '.join(diff)}); delete the folder and extract again with the run's settings "
                               "(vdi features extract)")
        self.declared, self.records, self.fingerprint = data["declared"], data["videos"], data["fingerprint"]
        self.dim: int | None = None

    def missing(self, vids) -> list[str]:
        return sorted(v for v in vids if not (self.folder / f"{v}.npz").is_file())

    def load(self, vid: str) -> VideoFeatures:
        path = self.folder / f"{vid}.npz"
        fix = f"delete {path} and rerun `vdi features extract` with --out {self.folder} (it resumes)"
        try:
            with np.load(path) as z:
                has_patches = "patches" in z.files
        except FileNotFoundError:
            raise VdiError(f"{path} not found; run `vdi features extract` for this folder again (it resumes)") from None
        except NPZ_ERRORS as e:
            raise VdiError(f"{path}: truncated or unreadable feature file ({type(e).__name__}: {e}); {fix}") from None
        arrays = load_npz(path, ["frames", "duration"], fix)
        frames = check_features(arrays["frames"], path, "frames", 2, fix, self.dim)
        self.dim = frames.shape[1]  # every video of a feature set has the same width
        duration = arrays["duration"]
        if duration.shape != () or duration.dtype.kind not in "fiu" or not np.isfinite(duration) or duration <= 0:
            raise VdiError(f"{path}: 'duration' is {duration!r}, expected seconds > 0; {fix}")
        return VideoFeatures(frames, LazyPatches(path) if has_patches else None, float(duration))


class VggFeatureSet:
    """2D-TAN / MMN Charades VGG16 features: one HDF5 dataset [T, 4096] per video id (A11: no patches)."""

    def __init__(self, path: Path):
        import h5py

        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as e:
            raise VdiError(f"{self.path}: not a readable HDF5 file ({e}); download it again "
                           "(see `vdi data status charades_vgg`)") from None
        self.fingerprint = fpr.file_sha256(self.path)

    def missing(self, vids) -> list[str]:
        return sorted(v for v in vids if v not in self._file)

    def load(self, vid: str, duration: float) -> VideoFeatures:
        if vid not in self._file:
            raise VdiError(f"{self.path}: no features for video {vid}; this file does not cover the split")
        try:
            frames = np.asarray(self._file[vid][:])
        except OSError as e:  # a truncated HDF5 file fails when the dataset's chunks are read
            raise VdiError(f"{self.path}: features of video {vid} cannot be read ({e}); download the file "
                           "again (see `vdi data status charades_vgg`)") from None
        return VideoFeatures(check_features(frames, self.path, vid, 2, "download the file again "
                                            "(see `vdi data status charades_vgg`)"), None, duration)

    def close(self) -> None:
        self._file.close()
