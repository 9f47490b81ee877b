"""Paper-profile data source for the grounding task: real annotations + extracted features.

`paper_grounding(data_cfg, ctx)` reads the config's `data` section (train_split, eval_split,
backbone, fps, patch_frames; optional `root`), checks that every file the run needs is present
and raises `MissingData` listing each missing one with the exact command to get it, before any
training. A backbone's paper side (S8, A1, A17: feature set, open_clip model, weights, manifest
artefacts, text tower) is its record in vdi_core/backbones.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..backbones import BACKBONES, Backbone, backbone_for
from ..datatypes import GroundingSplits, ModelSpec, Video
from ..errors import MissingData, VdiError
from ..features import fingerprint as fpr
from ..paths import data_root
from ..sources import register_source
from .annotations import AnnotationSplit
from .manifest import load_manifest
from .splits import check_disjoint, load_split, missing_for, protocol_of

# A decoded video may be a little shorter than the annotated duration (Charades-CD measured
# -0.005..+0.29 s against Charades v1 `length`); more than this means a truncated download whose
# features do not cover the annotated moments.
DURATION_TOLERANCE_S = 1.0
MOMENT_POLICY = "mmn: drop start>=end, clamp to [0, duration], drop empty after clamping"


def _text_spec(backbone: Backbone, root: Path) -> ModelSpec:
    """The backbone's text tower: CLIP's own (weights from the manifest) or DistilBERT's folder."""
    side = backbone.paper
    if side.text_kind == "open_clip":
        art = load_manifest()[side.weights]
        return ModelSpec("open_clip", side.image_model, weights=str(art.location(root)), fingerprint=art.sha256)
    folder = load_manifest()["distilbert_config"].location(root).parent
    return ModelSpec("hf", str(folder), fingerprint="distilbert-base-uncased")


# Which videos (and where they live) a protocol's features come from.
_VIDEO_SETS = {"charades": ("charades_videos_480", "charades/Charades_v1_480"),
               "activitynet": (None, "activitynet/videos")}


def _video_set(split: str) -> str:
    return "charades" if protocol_of(split).startswith("charades") else "activitynet"


def clip_feature_dir(root: Path, video_set: str, backbone: Backbone, fps: float, patch_frames: int) -> Path:
    return Path(root) / "features" / video_set / f"{backbone.paper.image_model}-openai-fps{fps:g}-p{patch_frames}"


def extract_command(root: Path, video_set: str, backbone: Backbone, fps: float, patch_frames: int) -> str:
    side = backbone.paper
    weights = load_manifest()[side.weights].location(root)
    return (f"vdi features extract --videos {Path(root) / _VIDEO_SETS[video_set][1]} --model {side.image_model} "
            f"--pretrained {weights} --fps {fps:g} --patch-frames {patch_frames} "
            f"--out {clip_feature_dir(root, video_set, backbone, fps, patch_frames)}")


def _missing_inputs(cfg, root: Path, backbone: Backbone) -> list[tuple[str, str]]:
    manifest = load_manifest()
    missing = missing_for(cfg.train_split, root) + missing_for(cfg.eval_split, root)
    video_set = _video_set(cfg.eval_split)
    if backbone.paper.features == "vgg" and video_set != "charades":
        raise VdiError(f"data.backbone = {backbone.name} uses 2D-TAN's Charades VGG features; there are none for "
                       f"{cfg.eval_split}; use a joint backbone")
    names = backbone.paper.artefacts
    missing += [(f"{manifest[n].title} ({manifest[n].location(root)})", manifest[n].fetch_command)
                for n in names if not manifest[n].location(root).is_file()]
    if backbone.paper.features == "clip":
        folder = clip_feature_dir(root, video_set, backbone, cfg.fps, cfg.patch_frames)
        if not (folder / "features.json").is_file():
            videos_art, videos_dir = _VIDEO_SETS[video_set]
            if not (Path(root) / videos_dir).is_dir():
                how = (manifest[videos_art].fetch_command if videos_art else
                       "obtain the ActivityNet videos (YouTube; http://activity-net.org/download.html)")
                missing.append((f"videos in {Path(root) / videos_dir}", how))
            missing.append((f"{backbone.paper.image_model} features in {folder}",
                            extract_command(root, video_set, backbone, cfg.fps, cfg.patch_frames)))
    return missing


def _open_features(cfg, root: Path, backbone: Backbone):
    from ..features.feature_sets import ClipFeatureSet, VggFeatureSet

    if backbone.paper.features == "vgg":
        return VggFeatureSet(load_manifest()["charades_vgg_2dtan"].location(root))
    from ..towers.image import TRANSFORM_VERSION

    side = backbone.paper
    expect = {"model": side.image_model, "weights_sha256": load_manifest()[side.weights].sha256,
              "quick_gelu": True, "fps": float(cfg.fps), "patch_frames": int(cfg.patch_frames),
              "transform": TRANSFORM_VERSION}
    return ClipFeatureSet(clip_feature_dir(root, _video_set(cfg.eval_split), backbone, cfg.fps, cfg.patch_frames),
                          expect)


def _to_videos(split: AnnotationSplit, features, backbone: Backbone, skipped: dict) -> list[Video]:
    out, too_short = [], []
    for av in split.videos:
        if not av.queries:
            skipped[f"{split.name}:video_without_queries"] = skipped.get(f"{split.name}:video_without_queries", 0) + 1
            continue
        f = features.load(av.vid, av.duration) if backbone.paper.features == "vgg" else features.load(av.vid)
        if f.duration < av.duration - DURATION_TOLERANCE_S:
            too_short.append(f"{av.vid} ({f.duration:.1f} s < {av.duration:.1f} s)")
            continue
        out.append(Video(av.vid, av.duration, f.frames, f.patches, list(av.queries)))
    if too_short:
        raise VdiError(f"{len(too_short)} videos of {split.name} decode shorter than their annotated duration, so "
                       f"their features miss annotated moments: {', '.join(too_short[:5])}"
                       f"{' ...' if len(too_short) > 5 else ''}; re-download those videos, delete their .npz "
                       "files and rerun `vdi features extract` (it resumes)")
    return out


def inputs_fingerprint(data_cfg) -> dict[str, str]:
    """Cheap identity of a paper grounding run's inputs, for the run key, without loading any
    arrays: hashes of the annotation files and the feature set's stored fingerprint
    ("missing" for whatever is absent, so the key changes once it arrives)."""
    from .manifest import file_digests
    from .splits import split_artefacts

    root = data_root(getattr(data_cfg, "root", None))
    out: dict[str, str] = {"moment_policy": MOMENT_POLICY, "backbone": data_cfg.backbone}
    for split in (data_cfg.train_split, data_cfg.eval_split):
        for a in split_artefacts(split):
            path = a.location(root)
            out[f"file:{a.name}"] = file_digests(path)[0] if path.is_file() else "missing"
    backbone = BACKBONES[data_cfg.backbone].paper if data_cfg.backbone in BACKBONES else None
    if backbone is not None and backbone.features == "clip":
        folder = clip_feature_dir(root, _video_set(data_cfg.eval_split), BACKBONES[data_cfg.backbone], data_cfg.fps,
                                  data_cfg.patch_frames)
        stored = fpr.read(folder)
        out["features"] = stored["fingerprint"] if stored else "missing"
    elif backbone is not None:
        path = load_manifest()["charades_vgg_2dtan"].location(root)
        out["features"] = fpr.file_sha256(path) if path.is_file() else "missing"
    return out


def _data_fingerprint(data_cfg) -> str:
    blob = {**inputs_fingerprint(data_cfg), "train": data_cfg.train_split, "eval": data_cfg.eval_split}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def _backbone(data_cfg) -> Backbone:
    if getattr(data_cfg, "text_tower", "backbone") != "backbone" or getattr(data_cfg, "mask_novel_words", False):
        raise VdiError("data.text_tower and data.mask_novel_words are premise-ladder knobs of the mini profile "
                       "(docs/PREMISE.md); the paper profile uses the backbone's own text tower")
    return backbone_for(data_cfg.backbone, "paper")


def paper_grounding_fingerprint(data_cfg, ctx) -> dict[str, str]:
    """The run-key identity from file hashes and the features' stored fingerprint (no arrays read)."""
    root = data_root(getattr(data_cfg, "root", None))
    return {"data": _data_fingerprint(data_cfg), "text_tower": _text_spec(_backbone(data_cfg), root).fingerprint}


@register_source("paper", "grounding", fingerprint=paper_grounding_fingerprint)
def paper_grounding(data_cfg, ctx) -> GroundingSplits:
    backbone = _backbone(data_cfg)
    root = data_root(getattr(data_cfg, "root", None))
    missing = _missing_inputs(data_cfg, root, backbone)
    if missing:
        raise MissingData(missing)
    train, evaluation = load_split(data_cfg.train_split, root), load_split(data_cfg.eval_split, root)
    check_disjoint(train, evaluation)
    features = _open_features(data_cfg, root, backbone)
    needed = [v.vid for s in (train, evaluation) for v in s.videos if v.queries]
    absent = features.missing(needed)
    if absent:
        what = f"features of {len(absent)} videos (e.g. {', '.join(absent[:3])})"
        how = (extract_command(root, _video_set(data_cfg.eval_split), backbone, data_cfg.fps, data_cfg.patch_frames)
               if backbone.paper.features == "clip" else "download the complete vgg_rgb_features.hdf5 again")
        raise MissingData([(what, how)])
    skipped: dict[str, int] = {}
    for s in (train, evaluation):
        for reason, n in s.skipped.items():
            skipped[f"{s.name}:{reason}"] = n
    train_videos = _to_videos(train, features, backbone, skipped)
    eval_videos = _to_videos(evaluation, features, backbone, skipped)
    for s in (train, evaluation):
        ctx.log(f"{s.name}: {len(s.videos)} videos, {s.num_queries} of {s.records} queries kept; "
                f"dropped {dict(s.skipped) or 'none'}; clamped {dict(s.clamped) or 'none'}")
    return GroundingSplits(train=train_videos, eval=eval_videos, text=_text_spec(backbone, root),
                           feature_dim=int(train_videos[0].frames.shape[1]),
                           fingerprint=_data_fingerprint(data_cfg),
                           skipped=skipped)

