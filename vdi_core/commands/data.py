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


def _extract_spec(args):
    from ..data.manifest import load_manifest
    from ..datatypes import ModelSpec

    weights = args.pretrained
    if weights == "openai":
        by_model = {"ViT-B-32-quickgelu": "clip_vit_b32_openai", "RN50-quickgelu": "clip_rn50_openai"}
        if args.model not in by_model:
            quick = f"{args.model}-quickgelu"
            hint = f"; OpenAI weights need QuickGELU: use {quick}" if quick in by_model else ""
            raise VdiError(f"--pretrained openai is known for {', '.join(by_model)}, not {args.model}{hint}")
        weights = str(load_manifest()[by_model[args.model]].location(_root(args)))
    return ModelSpec("open_clip", args.model, config_path=args.model_config, weights=weights)


def cmd_extract(args) -> int:
    from ..executors.run_flags import check_slurm_only
    from ..features.extract import extract_features, list_videos
    from ..features.shards import check_shards, missing_videos, shard_videos

    check_shards(args.shards, args.shard)
    check_slurm_only(args)
    if args.executor == "slurm" and args.shard is not None:
        raise VdiError("--shard K runs one shard here; with --executor slurm leave it out (all shards are submitted)")
    spec = _extract_spec(args)
    videos, out = list_videos(Path(args.videos)), Path(args.out)
    settings = {"fps": args.fps, "patch_frames": args.patch_frames, "batch_size": args.batch_size,
                "device": args.device}
    if args.executor == "slurm":
        return _extract_slurm(args, videos, out, spec, settings)
    if args.shard is None:  # locally all shards at once are one run over all videos
        extract_features(videos, out, spec, **settings, progress=not args.no_progress)
        return 0
    extract_features(shard_videos(videos, args.shards, args.shard), out, spec, **settings,
                     progress=not args.no_progress, write_fingerprint=False)
    left = len(missing_videos(videos, out))
    print(f"shard {args.shard} of {args.shards} done; {left} of {len(videos)} videos still missing"
          + ("" if left else "; run the command without --shard to write features.json"))
    return 0


def _extract_slurm(args, videos, out, spec, settings) -> int:
    import sys

    from ..executors.features_slurm import submit_shards, wait_for
    from ..executors.run_flags import slurm_options

    if settings["fps"] <= 0 or settings["patch_frames"] < 0 or settings["batch_size"] < 1:  # before submitting
        raise VdiError(f"need fps > 0, patch_frames >= 0, batch_size >= 1 (got {settings['fps']}, "
                       f"{settings['patch_frames']}, {settings['batch_size']})")
    record = submit_shards(videos, out, spec, settings, args.shards, slurm_options(args))
    if not args.wait or not record:
        return 0
    failed = wait_for(record, videos, out, args.wait_timeout)
    for line in failed:
        print(line, file=sys.stderr)
    if not failed:
        print(f"features.json written for {len(videos)} videos -> {out}")
    return 1 if failed else 0


def register(subparsers) -> None:
    from ..executors.run_flags import add_slurm_args

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
    p.add_argument("--shards", type=int, default=1,
                   help="cut the videos into N shards (round robin over sorted ids; features/shards.py)")
    p.add_argument("--shard", type=int, default=None, metavar="K",
                   help="extract only shard K (0..N-1) here; features.json is written by a run without --shard")
    add_slurm_args(p)
    p.set_defaults(func=cmd_extract)


__all__ = ["register"]
