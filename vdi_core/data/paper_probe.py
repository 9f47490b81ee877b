"""Paper-profile data sources for Table 1 (`svo_triplets`) and Figure 1 (`sentences`).

Paths come from the data manifest (data_manifest/manifest.toml) under the data root; anything
missing is listed with the command that gets it, before a model is loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..backbones import BACKBONES, names_on
from ..datatypes import ModelSpec, ProbeData, SentenceSets
from ..errors import MissingData, VdiError, did_you_mean
from ..paths import data_root
from ..sources import register_source
from .manifest import file_digests, load_manifest
from .svo_probes import load_svo_triplets

# `vdi data fetch svo_probes` fetches the csv (manifest group svo_probes); the images are then
# downloaded by `fetch_svo_images` from the URLs in that csv.
IMAGES_COMMAND = "vdi data fetch svo_probes  (downloads the csv, then its images)"
IMAGES_DIR = "svo_probes/images"


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_fingerprint(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) within the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_digests(path)[0]
    return _DIGESTS[key]


def _artefact_path(name: str, root: Path, missing: list) -> Path:
    art = load_manifest()[name]
    path = art.location(root)
    if not path.is_file():
        missing.append((f"{art.title} at {path}", art.fetch_command))
    return path


def paper_clip_spec(data_cfg, root: Path, missing: list) -> ModelSpec | None:
    """The ModelSpec of `data_cfg.backbone` (vit-joint | resnet-joint) with weights from the
    manifest, or `data_cfg.weights` when set. Appends to `missing` when the file is absent."""
    name = getattr(data_cfg, "backbone", "vit-joint")
    clips = names_on("paper", joint=True)
    if name not in clips:
        raise VdiError(f"data.backbone: unknown paper CLIP '{name}'{did_you_mean(name, clips)}")
    clip = BACKBONES[name].paper  # OpenAI weights use QuickGELU (A1)
    override = getattr(data_cfg, "weights", "") or ""
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            missing.append((f"CLIP weights at {path} (data.weights)", "fix data.weights or unset it"))
    else:
        path = _artefact_path(clip.weights, root, missing)
    if not path.is_file():
        return None
    return ModelSpec(kind="open_clip", model=clip.image_model, weights=str(path),
                     fingerprint=f"{clip.image_model}:{file_fingerprint(path)[:16]}")


def _root(data_cfg) -> Path:
    return data_root(getattr(data_cfg, "root", "") or None)


@register_source("paper", "svo_triplets")
def svo_triplets(data_cfg, ctx) -> ProbeData:
    root = _root(data_cfg)
    missing: list = []
    csv_path = _artefact_path("svo_probes_csv", root, missing)
    images_dir = root / IMAGES_DIR
    if not images_dir.is_dir():
        missing.append((f"SVO-Probes images in {images_dir}", IMAGES_COMMAND))
    spec = paper_clip_spec(data_cfg, root, missing)
    if missing:
        raise MissingData(missing)
    triplets, unavailable = load_svo_triplets(
        csv_path, images_dir, short_side=getattr(data_cfg, "image_short_side", 224), log=ctx.log
    )
    present = sorted(p.name for p in images_dir.iterdir() if p.is_file())
    images_hash = hashlib.sha256("\n".join(present).encode()).hexdigest()[:16]
    fingerprint = f"svo:{file_fingerprint(csv_path)[:16]}:images:{images_hash}:{spec.fingerprint}"
    return ProbeData(triplets=triplets, clip=spec, fingerprint=fingerprint, unavailable=unavailable)


def read_charades_sentences(path: Path) -> list[str]:
    """Sentences of a Charades-STA txt (`<vid> <start> <end>##<sentence>`), in file order."""
    out = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if "##" not in line:
            raise VdiError(f"{path}:{i}: no '##' between times and sentence; is this a Charades-STA file?")
        out.append(line.split("##", 1)[1].strip())
    return out


def read_json_sentences(path: Path) -> list[str]:
    """Sentences of an ActivityNet-Captions-style JSON (leading spaces stripped), in file order."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for vid, entry in data.items():
        if "sentences" not in entry:
            raise VdiError(f"{path}: video {vid} has no 'sentences'; is this an ActivityNet Captions file?")
        out.extend(s.strip() for s in entry["sentences"])
    return out


# Figure 1's two data sets: (name = metric prefix in experiments/fig1.toml, data_cfg field naming
# the artefact, reader)
SENTENCE_SETS = (
    ("charades_sta", "charades_artefact", read_charades_sentences),
    ("activitynet", "activitynet_artefact", read_json_sentences),
)
DEFAULT_ARTEFACTS = {"charades_artefact": "charades_sta_test", "activitynet_artefact": "activitynet_captions_val_2"}


@register_source("paper", "sentences")
def sentences(data_cfg, ctx) -> SentenceSets:
    root = _root(data_cfg)
    missing: list = []
    manifest = load_manifest()
    paths = {}
    for set_name, field_name, reader in SENTENCE_SETS:
        artefact = getattr(data_cfg, field_name, DEFAULT_ARTEFACTS[field_name])
        if artefact not in manifest:
            raise VdiError(f"data.{field_name}: unknown artefact '{artefact}'{did_you_mean(artefact, manifest)}")
        paths[set_name] = (_artefact_path(artefact, root, missing), reader)
    spec = paper_clip_spec(data_cfg, root, missing)
    if missing:
        raise MissingData(missing)
    sets = {name: reader(path) for name, (path, reader) in paths.items()}
    digest = ":".join(f"{n}={file_fingerprint(p)[:12]}" for n, (p, _) in paths.items())
    return SentenceSets(sets=sets, clip=spec, fingerprint=f"{digest}:{spec.fingerprint}")


def input_fingerprint(data_cfg, source: str) -> dict[str, str]:
    """Cheap identity of a paper source's input files for the run key (no model, no images)."""
    root = _root(data_cfg)
    names = ["svo_probes_csv"] if source == "svo_triplets" else [
        getattr(data_cfg, f, DEFAULT_ARTEFACTS[f]) for _, f, _ in SENTENCE_SETS
    ]
    name = getattr(data_cfg, "backbone", "vit-joint")
    if name in names_on("paper", joint=True) and not getattr(data_cfg, "weights", ""):
        names.append(BACKBONES[name].paper.weights)
    manifest = load_manifest()
    out = {}
    for name in names:
        path = manifest[name].location(root) if name in manifest else None
        out[name] = file_fingerprint(path)[:16] if path is not None and path.is_file() else "missing"
    weights = getattr(data_cfg, "weights", "") or ""
    if weights:  # own weights: their bytes, not only their path, decide the numbers
        path = Path(weights).expanduser()
        out["weights"] = file_fingerprint(path)[:16] if path.is_file() else "missing"
    return out
