"""`vdi cache info|clear|probe`: the mini profile's cache of generated frames, weights and features.

The cache lives in $VDI_CACHE, else `<repo>/.cache`; each generating config has its own folder
`mini/<key>/`, so `info` shows which one the current world.toml uses and `clear --stale` drops
the others.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..backbones import BACKBONES, names_on
from ..paths import cache_root


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _current_keys() -> set[str]:
    """Folder names the current world.toml uses (its videos/features and its models)."""
    from ..mini.build import MiniBuild

    build = MiniBuild(Path("/nonexistent"), log=lambda s: None)
    return {build.key, f"models-{build.model_key}"}


def _entries(cache_dir: Path) -> list[Path]:
    root = cache_dir / "mini"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def cache_info(args) -> int:
    cache_dir = Path(args.cache_dir)
    current = _current_keys()
    entries = _entries(cache_dir)
    print(f"cache: {cache_dir} (current: {', '.join(sorted(current))})")
    if not entries:
        print("  empty: the first mini run builds the world, the micro-CLIPs and the features")
        return 0
    total = 0
    for entry in entries:
        size = _size(entry)
        total += size
        mark = "current" if entry.name in current else "stale"
        print(f"  mini/{entry.name}  {size / 2**20:8.1f} MB  {mark}")
        info = entry / "build.json"
        built = json.loads(info.read_text()).get("built", {}) if info.exists() else {}
        for what, rec in sorted(built.items()):
            print(f"      {what:<40} {rec['seconds']:7.1f} s  {rec['at']}")
    print(f"  total {total / 2**20:.1f} MB")
    return 0


def cache_clear(args) -> int:
    cache_dir = Path(args.cache_dir)
    current = _current_keys()
    doomed = [e for e in _entries(cache_dir) if not (args.stale and e.name in current)]
    for entry in doomed:
        shutil.rmtree(entry)
        print(f"removed mini/{entry.name}")
    if not doomed:
        print("nothing to remove")
    return 0


def cache_probe(args) -> int:
    """The acceptance probes of the micro-CLIPs and the verb read-out of the mini backbones
    (mini/probes.py) as markdown, building what is missing."""
    from ..errors import VdiError, did_you_mean
    from ..mini.build import MiniBuild
    from ..mini.probes import linear_readout, svo_premise, zero_shot
    from ..towers.clip import load_clip

    def checked(flag: str, value: str, allowed, what: str) -> list[str]:
        names = [n for n in value.split(",") if n]
        for name in names:  # every name is checked before minutes of building, not after
            if name not in allowed:
                raise VdiError(f"vdi cache probe {flag}: '{name}' is not {what}{did_you_mean(name, allowed)}")
        return names

    clips = names_on("mini", joint=True)
    names = checked("--models", args.models, clips, "a micro-CLIP")
    if not names:
        raise VdiError(f"vdi cache probe --models: name at least one of {', '.join(clips)}")
    verb_backbones = checked("--verb-backbones", args.verb_backbones, names_on("mini"), "a mini backbone")
    build = MiniBuild(Path(args.cache_dir))
    rows = []
    for name in names:
        model, _, tokenizer = load_clip(build.clip_spec(BACKBONES[name].mini.image_model))
        rows.append((name, zero_shot(model, tokenizer, build.world, args.count),
                     svo_premise(model, tokenizer, build.world), linear_readout(model, build.world)))
    z0 = rows[0][1]
    print(f"Zero-shot attribute retrieval on {args.count} held-out frames (chance in brackets):\n")
    print(f"| model | colour ({z0['colour_chance']:.2f}) | shape ({z0['shape_chance']:.2f}) | "
          f"position ({z0['position_chance']:.2f}) | box position ({z0['box_position_chance']:.2f}) |\n"
          "|---|---|---|---|---|")
    for name, z, *_ in rows:
        print(f"| {name} | {z['colour_acc']:.2f} | {z['shape_acc']:.2f} | {z['position_acc']:.2f} | "
              f"{z['box_position_acc']:.2f} |")
    print("\nTable 1 premise, acc(cos(s, pos) > cos(s, neg)) on 600 triplets (chance 0.50):\n")
    print("| model | subject (shape swap) | verb (opposite move) | object (box colour) |\n|---|---|---|---|")
    for name, _, t, _ in rows:
        print(f"| {name} | {t['subject_acc']:.2f} | {t['verb_acc']:.2f} | {t['object_acc']:.2f} |")
    r0 = rows[0][3]
    print("\nLinear read-out of the frame feature, one-actor frames, held out (majority class in brackets):\n")
    print(f"| model | shape ({r0['shape_chance']:.2f}) | grid cell ({r0['cell_chance']:.2f}) | "
          f"big / small ({r0['size_chance']:.2f}) |\n|---|---|---|---|")
    for name, *_, r in rows:
        print(f"| {name} | {r['shape_acc']:.2f} | {r['cell_acc']:.2f} | {r['size_acc']:.2f} |")
    if verb_backbones:
        _print_verb_readout(build, verb_backbones)
    return 0


def _print_verb_readout(build, backbones: list[str]) -> None:
    """The verb read-out table (mini/probes.py): per backbone, the held-out accuracy and per verb."""
    from ..grounding.config import DataConfig
    from ..mini.loaders import videos
    from ..mini.probes import verb_readout

    patch_frames = DataConfig().patch_frames  # the grounding rows' features, so the cached ones are read
    results = [(b, verb_readout(videos(build, b, "train", patch_frames), videos(build, b, "test", patch_frames)))
               for b in backbones]
    verbs = sorted(key[4:] for key in results[0][1] if key.startswith("acc_"))
    print(f"\nVerb read-out: each test query's verb from the change of the frame feature over its moment, "
          f"MLP fitted on the train queries (majority class {results[0][1]['chance']:.2f}):\n")
    print("| backbone | all | " + " | ".join(verbs) + " |\n|---|---|" + "---|" * len(verbs))
    for name, r in results:
        print(f"| {name} | {r['acc']:.2f} | " + " | ".join(f"{r.get('acc_' + v, float('nan')):.2f}" for v in verbs)
              + " |")


def register(subparsers) -> None:
    default_cache = cache_root(check=False)  # checked when a cache command runs, not while building the parser

    p = subparsers.add_parser("cache", help="inspect or clear the mini profile's generated-data cache")
    sub = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    for name, fn, text in (("info", cache_info, "list cached worlds, their sizes and build times"),
                           ("clear", cache_clear, "delete cached worlds (rebuilt on the next run)"),
                           ("probe", cache_probe, "did the micro-CLIPs learn the nouns, and do the frame features "
                                                  "carry the verbs? probes on held-out frames and test "
                                                  "moments (builds what is missing)")):
        q = sub.add_parser(name, help=text)
        q.add_argument("--cache-dir", default=str(default_cache),
                       help="cache directory (default: $VDI_CACHE or <repo>/.cache)")
        if name == "clear":
            q.add_argument("--stale", action="store_true", help="keep the current world, remove the others")
        if name == "probe":
            q.add_argument("--models", default="vit-joint,resnet-joint",
                           help="comma-separated micro-CLIPs (any of: " + ", ".join(names_on("mini", joint=True))
                                + "; each one not built yet is pre-trained first)")
            q.add_argument("--count", type=int, default=1000, help="held-out frames for zero-shot retrieval")
            q.add_argument("--verb-backbones", default="vit-joint,resnet-joint,separated,gt-states-static",
                           help="comma-separated mini backbones for the verb read-out ('' skips it); "
                                "gt-states-static is its ceiling")
        q.set_defaults(func=fn)

