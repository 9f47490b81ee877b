"""Named annotation splits ("charades_cg/novel_word") -> manifest artefacts + loader.

A protocol pairs a training split with the evaluation splits built for it. Protocols must not be
mixed: CG and CD re-shuffle STA train and test, so an STA-trained model has seen most of the
CG novel-word videos. `check_disjoint` enforces it wherever train and eval meet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingData, VdiError, did_you_mean
from .annotations import AnnotationSplit, load_charades_sta, load_grounding_json, read_charades_durations
from .manifest import Artefact, load_manifest


@dataclass(frozen=True)
class SplitDef:
    name: str
    artefacts: tuple[str, ...]  # manifest names; the first is the annotation file
    load: Callable[[str, list[Path]], AnnotationSplit]


def _sta(name: str, paths: list[Path]) -> AnnotationSplit:
    return load_charades_sta(name, paths[0], read_charades_durations(paths[1:]))


def _json(name: str, paths: list[Path]) -> AnnotationSplit:
    return load_grounding_json(name, paths[0])


_STA_CSV = ("charades_v1_train_csv", "charades_v1_test_csv")
SPLITS: dict[str, SplitDef] = {}
# protocol -> (train split, evaluation splits built for it)
PROTOCOLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "charades_sta": ("train", ("test",)),
    "charades_cg": ("train", ("novel_composition", "novel_word", "test_trivial")),
    "charades_cd": ("train", ("val", "test_iid", "test_ood")),
    "activitynet_captions": ("train", ("val_1", "val_2")),
    "activitynet_cg": ("train", ("novel_composition", "novel_word", "test_trivial")),
    "activitynet_cd": ("train", ("val", "test_iid", "test_ood")),
}


def _register_all() -> None:
    for protocol, (train, evals) in PROTOCOLS.items():
        for part in (train, *evals):
            name = f"{protocol}/{part}"
            if protocol == "charades_sta":
                SPLITS[name] = SplitDef(name, (f"charades_sta_{part}", *_STA_CSV), _sta)
            else:
                SPLITS[name] = SplitDef(name, (f"{protocol}_{part}",), _json)


_register_all()


def protocol_of(split: str) -> str:
    return split.split("/", 1)[0]


def split_def(name: str) -> SplitDef:
    if name not in SPLITS:
        raise VdiError(f"unknown split '{name}'{did_you_mean(name, SPLITS)}")
    return SPLITS[name]


def split_artefacts(name: str) -> list[Artefact]:
    manifest = load_manifest()
    return [manifest[a] for a in split_def(name).artefacts]


def missing_for(name: str, root: Path) -> list[tuple[str, str]]:
    return [(f"{a.title} ({a.location(root)})", a.fetch_command)
            for a in split_artefacts(name) if not a.location(root).is_file()]


def load_split(name: str, root: Path) -> AnnotationSplit:
    """Load a named split from the data root; MissingData lists absent files and how to get them."""
    missing = missing_for(name, root)
    if missing:
        raise MissingData(missing)
    return split_def(name).load(name, [a.location(root) for a in split_artefacts(name)])


def check_disjoint(train: AnnotationSplit, evaluation: AnnotationSplit) -> None:
    """Training and evaluation must not share videos; say which protocol to use when they do."""
    shared = train.video_ids & evaluation.video_ids
    if shared:
        example = ", ".join(sorted(shared)[:3])
        raise VdiError(f"train split {train.name} and evaluation split {evaluation.name} share "
                       f"{len(shared)} videos (e.g. {example}); train and evaluate within one protocol, "
                       f"e.g. {protocol_of(evaluation.name)}/{PROTOCOLS[protocol_of(evaluation.name)][0]} "
                       f"with {evaluation.name}")
