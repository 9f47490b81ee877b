"""The mini profile's data sources: the toy world behind the same interfaces as the real data.

Split names of the specs map to toy splits (`world.SPEC_SPLITS`):
  charades_cg/train, charades_sta/train -> train
  charades_cg/novel_word                -> novel_word
  charades_cg/novel_composition         -> novel_composition
  charades_sta/test                     -> test (i.i.d. with train)
The toy names themselves ("train", "test", ...) are accepted too. `data_cfg.fps` (A2) does not
apply: a toy video *is* its T rendered frames, all of which are encoded.

Premise-ladder knobs (docs/PREMISE.md): `data.backbone = "gt-states"` (mini/states.py),
`data.text_tower = "bag-of-words"` (towers/bow.py), `data.mask_novel_words` (rung P4).
"""

from __future__ import annotations

import numpy as np

from ..backbones import BACKBONES, backbone_for, names_on
from ..context import BuildJob
from ..datatypes import GroundingSplits, ModelSpec, ProbeData, Query, SentenceSets, Triplet, Video
from ..errors import VdiError, did_you_mean
from ..features.feature_sets import check_video_count
from ..sources import register_source
from . import frames as frames_mod
from . import grammar
from . import states as states_mod
from . import world as world_mod
from .build import MiniBuild, build_backbone

MASK_WORD = "something"  # P4's unseen token: no query or caption of the world holds it
BOW_DIM, BOW_MAX_WORDS = 64, 24  # the micro-CLIP text width and context


def toy_split(name: str) -> str:
    if name in world_mod.SPLITS:
        return name
    if name in world_mod.SPEC_SPLITS:
        return world_mod.SPEC_SPLITS[name]
    known = list(world_mod.SPEC_SPLITS) + list(world_mod.SPLITS)
    raise VdiError(f"data split '{name}' has no toy counterpart in the mini profile{did_you_mean(name, known)}")


def _backbone(data_cfg) -> str:
    return backbone_for(getattr(data_cfg, "backbone", "vit-joint"), "mini").name


def mask_words(sentence: str, words) -> str:
    """P4: every whole word of `words` replaced by MASK_WORD, which no query or caption holds."""
    return " ".join(MASK_WORD if w in words else w for w in sentence.split(" "))


def videos(build: MiniBuild, backbone: str, split: str, patch_frames: int, masked=()) -> list[Video]:
    if backbone in states_mod.VARIANTS:
        feats = {"global": states_mod.split_states(build, split, backbone)}
    else:
        feats = build.features(backbone, split, patch_frames)
        check_video_count(len(feats["global"]), [s.vid for s in build.splits()[split]],
                          build.features_path(backbone, split, patch_frames),
                          "delete the file and run again (the mini cache rebuilds it)")
    fps, out = build.world["video"]["fps"], []
    for i, script in enumerate(build.splits()[split]):
        g = feats["global"][i].astype(np.float32)
        p = feats["patches"][i].astype(np.float32) if "patches" in feats else None
        # actor and verb tag each query for the verb / noun pair metrics (grounding/pairs.py)
        queries = [Query(f"{script.vid}#{k}", mask_words(sentence, masked) if masked else sentence,
                         world_mod.moment_seconds(build.world, script.events[k]),
                         actor=f"actor{script.events[k].actor}", verb=script.events[k].action)
                   for k, sentence in script.queries]
        out.append(Video(script.vid, len(g) / fps, g, p, queries))
    return out


def _grounding_names(data_cfg) -> tuple[str, int, str, str]:
    backbone = _backbone(data_cfg)
    patch_frames = int(getattr(data_cfg, "patch_frames", 32))
    return backbone, patch_frames, toy_split(data_cfg.train_split), toy_split(data_cfg.eval_split)


def _masked(build: MiniBuild, data_cfg) -> tuple[str, ...]:
    return tuple(build.world["splits"]["novel_words"]) if getattr(data_cfg, "mask_novel_words", False) else ()


def _text_backbone(backbone: str) -> str:
    """The backbone whose text tower a row uses with text_tower = "backbone"."""
    return BACKBONES[backbone].mini.text_backbone or backbone


def bag_of_words_spec(build: MiniBuild, write: bool = True) -> ModelSpec:
    """The bag-of-words tower over every word the world's grammar emits (docs/PREMISE.md)."""
    v = build.world["vocab"]
    words = grammar.all_words(list(v["colours"]), v["shapes"], v["landmark_positions"])
    content = {"words": words, "dim": BOW_DIM, "max_words": BOW_MAX_WORDS}
    path = build.root / "text" / f"bag-of-words-{world_mod.config_hash(content)}.json"
    if write and not path.exists():
        from ..towers.bow import write_vocabulary  # torch: only when the vocabulary is written, not to plan

        write_vocabulary(path, words, BOW_DIM, BOW_MAX_WORDS)
    return ModelSpec("bag-of-words", "bag-of-words", str(path), None,
                     fingerprint=f"bag-of-words-{world_mod.config_hash(content)}")


def _text_spec(build: MiniBuild, data_cfg, backbone: str) -> ModelSpec:
    if getattr(data_cfg, "text_tower", "backbone") == "bag-of-words":
        return bag_of_words_spec(build)
    return build.text_spec(_text_backbone(backbone))


def grounding_fingerprint(data_cfg, ctx) -> dict[str, str]:
    """What `grounding` will return as identity, from world.toml's hash alone (nothing is built)."""
    build = MiniBuild(ctx.cache_dir, log=ctx.log)
    backbone, patch_frames, train_split, eval_split = _grounding_names(data_cfg)
    if backbone in states_mod.VARIANTS:
        data = f"{states_mod.fingerprint(build, backbone)}-{train_split}-{eval_split}"
    else:
        pf = build.patch_frames_for(backbone, patch_frames)
        data = f"mini-{build.key}-{backbone}-p{pf}-{train_split}-{eval_split}"
    if _masked(build, data_cfg):
        data += f"-masked-{MASK_WORD}"
    if getattr(data_cfg, "text_tower", "backbone") == "bag-of-words":
        text = bag_of_words_spec(build, write=False).fingerprint
    else:
        text = build.model_fingerprint(build.text_model(_text_backbone(backbone)))
    return {"data": data, "text_tower": text}


def grounding_prebuild(data_cfgs, ctx) -> list[BuildJob]:
    """One job per backbone not yet cached: its models and the features of every split asked for
    (gt-states need no image model: only the text model of their text side, if any)."""
    build = MiniBuild(ctx.cache_dir, log=ctx.log)
    wanted: dict[tuple[str, int], set[str]] = {}
    for data_cfg in data_cfgs:
        backbone, patch_frames, train_split, eval_split = _grounding_names(data_cfg)
        bow = getattr(data_cfg, "text_tower", "backbone") == "bag-of-words"
        if backbone in states_mod.VARIANTS:
            if not bow:
                wanted.setdefault((_text_backbone(backbone), patch_frames), set())
            continue
        wanted.setdefault((backbone, patch_frames), set()).update((train_split, eval_split))
    jobs = []
    for (backbone, patch_frames), splits in sorted(wanted.items()):
        if not build.is_built(backbone, splits, patch_frames):
            jobs.append(BuildJob(f"mini backbone {backbone} ({', '.join(sorted(splits)) or 'models'})", build_backbone,
                                 (str(ctx.cache_dir), backbone, tuple(sorted(splits)), patch_frames),
                                 resource=f"mini backbone {backbone} p{patch_frames}"))
    return jobs


@register_source("mini", "grounding", fingerprint=grounding_fingerprint, prebuild=grounding_prebuild)
def grounding(data_cfg, ctx) -> GroundingSplits:
    build = MiniBuild(ctx.cache_dir, log=ctx.log)
    backbone, patch_frames, train_split, eval_split = _grounding_names(data_cfg)
    masked = _masked(build, data_cfg)
    train = videos(build, backbone, train_split, patch_frames, masked)
    evaluated = videos(build, backbone, eval_split, patch_frames, masked)
    return GroundingSplits(
        train=train, eval=evaluated, text=_text_spec(build, data_cfg, backbone), feature_dim=train[0].frames.shape[1],
        fingerprint=grounding_fingerprint(data_cfg, ctx)["data"],
    )


def _joint_clip(build: MiniBuild, data_cfg) -> tuple[str, object]:
    backbone = _joint_backbone(data_cfg)
    return backbone, build.clip_spec(backbone)


def _joint_backbone(data_cfg) -> str:
    backbone = _backbone(data_cfg)
    if not BACKBONES[backbone].mini.joint:
        joint = names_on("mini", joint=True)
        raise VdiError(f"the {backbone} backbone has no joint image-text model; use {' or '.join(joint)}")
    return backbone


def svo_fingerprint(data_cfg, ctx) -> dict[str, str]:
    """What `svo_triplets` will carry as identity, from world.toml's hash alone (nothing is built):
    an edited world moves the key of every Table 1 run."""
    build = MiniBuild(ctx.cache_dir, log=ctx.log)
    backbone = _joint_backbone(data_cfg)
    count = int(getattr(data_cfg, "count", 600))
    return {"data": f"mini-{build.key}-{backbone}-svo{count}",
            "model": build.model_fingerprint(BACKBONES[backbone].mini.image_model)}


def sentences_fingerprint(data_cfg, ctx) -> dict[str, str]:
    """What `sentences` will carry as identity (Figure 1), from world.toml's hash alone."""
    build = MiniBuild(ctx.cache_dir, log=ctx.log)
    backbone = _joint_backbone(data_cfg)
    return {"data": f"mini-{build.key}-{backbone}-sentences",
            "model": build.model_fingerprint(BACKBONES[backbone].mini.image_model)}


@register_source("mini", "svo_triplets", fingerprint=svo_fingerprint)
def svo_triplets(data_cfg, ctx) -> ProbeData:
    """Toy SVO triplets (Table 1): subject = the actor's shape, verb = the move (a static frame
    shows it only as a trail), object = the colour of the box the sentence places it near."""
    build = MiniBuild(ctx.cache_dir, log=ctx.log)
    backbone, spec = _joint_clip(build, data_cfg)
    count = int(getattr(data_cfg, "count", 600))
    rows = frames_mod.triplets(build.world, build.world["seed"], count)
    return ProbeData([Triplet(*r) for r in rows], spec, fingerprint=svo_fingerprint(data_cfg, ctx)["data"])


@register_source("mini", "sentences", fingerprint=sentences_fingerprint)
def sentences(data_cfg, ctx) -> SentenceSets:
    """Toy sentences (Figure 1): the world's queries, and the pre-training captions."""
    build = MiniBuild(ctx.cache_dir, log=ctx.log)
    backbone, spec = _joint_clip(build, data_cfg)
    queries = [q for split in ("train", "test") for s in build.splits()[split] for _, q in s.queries]
    rng = np.random.default_rng([build.world["seed"], 8])
    caption_rng = world_mod.stream(build.world["seed"], "held_out")
    scenes = [frames_mod.sample_scene(caption_rng, build.world, 2, 0.2) for _ in range(500)]
    captions = [frames_mod.scene_caption(rng, build.world, s) for s in scenes]
    return SentenceSets({"toy_queries": queries, "toy_captions": captions}, spec,
                        fingerprint=sentences_fingerprint(data_cfg, ctx)["data"])
