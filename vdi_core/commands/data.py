"""`vdi data status|fetch|verify|stats` and `vdi features extract`."""

from __future__ import annotations

from pathlib import Path

from ..errors import VdiError


def _root(args) -> Path:
    from ..paths import data_root

    return data_root(args.root)


def _artefacts(names):
    from ..data.manifest import load_manifest, select

    return select(names) if names else list(load_manifest().values())


def cmd_status(args) -> int:
    root = _root(args)
    print(f"data root: {root}")
    for a in _artefacts(args.names):
        present = a.location(root).is_file()
        size = f"{a.size:,} B" if a.size is not None else "size ?"
        print(f"{'present' if present else 'missing':8} {a.name:34} {a.fetch:6} {size:>14}  {a.path}")
        if not present:
            print(f"{'':8} get it: {a.fetch_command}")
    return 0


def _svo_images(path: Path, root: Path) -> None:
    from ..data.paper_probe import IMAGES_DIR
    from ..data.svo_probes import fetch_svo_images

    counts = fetch_svo_images(path, root / IMAGES_DIR)
    print(f"svo_probes images: {counts}")


# Steps that follow an artefact's download: the SVO-Probes images are named only in its csv.
AFTER_FETCH = {"svo_probes_csv": _svo_images}


def cmd_fetch(args) -> int:
    from ..data.fetch import fetch

    root = _root(args)
    for a in _artefacts(args.names):
        path = fetch(a, root, progress=not args.no_progress)
        if a.name in AFTER_FETCH and not args.no_after:
            AFTER_FETCH[a.name](path, root)
    return 0


def cmd_verify(args) -> int:
    from ..data.manifest import check

    root = _root(args)
    counts: dict[str, int] = {}
    bad = []
    for a in _artefacts(args.names):
        state, detail = check(a, root)
        counts[state] = counts.get(state, 0) + 1
        print(f"{state:9} {a.name:34} {detail if state != 'verified' else a.path}")
        if state == "mismatch":
            bad.append(f"{a.name}: {detail}")
    print("summary: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" (root {root})")
    if bad:
        raise VdiError(f"{len(bad)} file(s) failed verification: {'; '.join(bad)}")
    return 0


def cmd_stats(args) -> int:
    from ..data.splits import PROTOCOLS, SPLITS, check_disjoint, load_split, missing_for, split_artefacts

    root = _root(args)
    names = args.split or list(SPLITS)
    loaded, problems = {}, []
    print(f"{'split':34} {'records':>8} {'videos':>7} {'queries':>8}  dropped / clamped")
    for name in names:
        if name not in SPLITS:
            from ..errors import did_you_mean

            raise VdiError(f"unknown split '{name}'{did_you_mean(name, SPLITS)}")
        if missing_for(name, root):
            print(f"{name:34} {'missing':>8}  (get it: vdi data fetch {split_artefacts(name)[0].name})")
            continue
        s = loaded[name] = load_split(name, root)
        expected = split_artefacts(name)[0].records
        got = {"lines": s.records, "queries": s.records, "videos": len(s.videos)}
        diff = [f"{k} {got[k]} != {v}" for k, v in expected.items() if k in got and got[k] != v]
        flag = "ok" if not diff else "DIFF " + ", ".join(diff)
        problems += [f"{name}: {d}" for d in diff]
        print(f"{name:34} {s.records:>8,} {len(s.videos):>7,} {s.num_queries:>8,}  "
              f"{dict(s.skipped) or '-'} / {dict(s.clamped) or '-'}  [{flag}]")
    for protocol, (train, evals) in PROTOCOLS.items():
        tr = loaded.get(f"{protocol}/{train}")
        for e in evals:
            ev = loaded.get(f"{protocol}/{e}")
            if tr and ev:
                check_disjoint(tr, ev)
                print(f"disjoint: {tr.name} / {ev.name}")
    print("note: charades_cg/novel_word has 695 queries / 580 videos as released; the CG paper reports 703 / 588")
    if problems:
        raise VdiError(f"counts differ from data_manifest/manifest.toml: {'; '.join(problems)}; "
                       "run `vdi data verify` to check the files")
    return 0


def cmd_extract(args) -> int:
    from ..data.manifest import load_manifest
    from ..datatypes import ModelSpec
    from ..features.extract import extract_features, list_videos

    weights = args.pretrained
    if weights == "openai":
        by_model = {"ViT-B-32-quickgelu": "clip_vit_b32_openai", "RN50-quickgelu": "clip_rn50_openai"}
        if args.model not in by_model:
            quick = f"{args.model}-quickgelu"
            hint = f"; OpenAI weights need QuickGELU: use {quick}" if quick in by_model else ""
            raise VdiError(f"--pretrained openai is known for {', '.join(by_model)}, not {args.model}{hint}")
        weights = str(load_manifest()[by_model[args.model]].location(_root(args)))
    spec = ModelSpec("open_clip", args.model, config_path=args.model_config, weights=weights)
    extract_features(list_videos(Path(args.videos)), Path(args.out), spec, fps=args.fps,
                     patch_frames=args.patch_frames, batch_size=args.batch_size, device=args.device,
                     progress=not args.no_progress)
    return 0


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="real data of the paper profile: status, fetch, verify, stats")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    root_help = "data root (default: env VDI_DATA, else <repo>/data)"
    for name, func, help_ in (("status", cmd_status, "what is present and how to get the rest"),
                              ("fetch", cmd_fetch, "download artefacts (by name or group) and check them"),
                              ("verify", cmd_verify, "check sizes and checksums of present files")):
        p = dsub.add_parser(name, help=help_)
        p.add_argument("names", nargs="*" if name != "fetch" else "+", metavar="NAME")
        p.add_argument("--root", help=root_help)
        if name == "fetch":
            p.add_argument("--no-progress", action="store_true")
            p.add_argument("--no-after", action="store_true", help="skip follow-up downloads (SVO-Probes images)")
        p.set_defaults(func=func)
    p = dsub.add_parser("stats", help="videos/queries per split, drops and clamps, disjointness")
    p.add_argument("--root", help=root_help)
    p.add_argument("--split", action="append", help="e.g. charades_cg/novel_word (repeatable; default all)")
    p.set_defaults(func=cmd_stats)

    feats = subparsers.add_parser("features", help="extract CLIP frame/patch features from videos")
    fsub = feats.add_subparsers(dest="features_command", required=True, metavar="ACTION")
    p = fsub.add_parser("extract", help="decode videos, encode frames, write <out>/<vid>.npz (resumable)")
    p.add_argument("--videos", required=True, help="folder of <video_id>.mp4 files")
    p.add_argument("--model", default="ViT-B-32-quickgelu", help="open_clip model name")
    p.add_argument("--model-config", help="custom open_clip model JSON (its stem is the model name)")
    p.add_argument("--pretrained", required=True, help="'openai' (the manifest's weights file) or a checkpoint path")
    p.add_argument("--fps", type=float, default=3.0, help="global features per second (A2)")
    p.add_argument("--patch-frames", type=int, default=32, help="frames per video with patch features (A2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="feature folder")
    p.add_argument("--root", help=root_help)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_extract)


__all__ = ["register"]
