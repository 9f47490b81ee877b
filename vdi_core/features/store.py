"""Read extracted feature sets: CLIP `.npz` folders (extract.py) and 2D-TAN's VGG HDF5 file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VdiError
from . import fingerprint as fpr


class LazyPatches:
    """A video's patch features, read from its .npz whenever they are used (`np.asarray`) and never
    kept. They are needed once per query, for the spatial dynamic feature; held in memory they would
    take 32 x 49 x 512 float32 = 3.2 MB per video, ~21 GB for Charades-STA's training split."""

    def __init__(self, path: Path):
        self.path = path

    def __array__(self, dtype=None, copy=None):
        with np.load(self.path) as z:
            return z["patches"].astype(dtype or np.float32)

    def __repr__(self) -> str:
        return f"LazyPatches({self.path})"


@dataclass
class VideoFeatures:
    frames: np.ndarray  # [T, D] float32
    patches: np.ndarray | LazyPatches | None  # [T', P, D] float32 once np.asarray'd
    duration: float  # decoded video length in seconds (None-free: VGG uses the annotation's)


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
                               f"({'; '.join(diff)}); extract into a new folder with the run's settings")
        self.declared, self.records, self.fingerprint = data["declared"], data["videos"], data["fingerprint"]

    def missing(self, vids) -> list[str]:
        return sorted(v for v in vids if not (self.folder / f"{v}.npz").is_file())

    def load(self, vid: str) -> VideoFeatures:
        path = self.folder / f"{vid}.npz"
        try:
            with np.load(path) as z:
                patches = LazyPatches(path) if "patches" in z.files else None
                return VideoFeatures(z["frames"].astype(np.float32), patches, float(z["duration"]))
        except FileNotFoundError:
            raise VdiError(f"{path} not found; run `vdi features extract` for this folder again (it resumes)") from None
        except (OSError, ValueError, KeyError) as e:
            raise VdiError(f"{path}: unreadable feature file ({e}); "
                           "delete it and rerun `vdi features extract`") from None


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
        frames = np.asarray(self._file[vid][:], dtype=np.float32)
        if frames.ndim != 2:
            raise VdiError(f"{self.path}: dataset {vid} has shape {frames.shape}, expected [T, D]")
        return VideoFeatures(frames, None, duration)

    def close(self) -> None:
        self._file.close()
