"""Slow: the default micro-CLIP (built into the cache on first use, ~7-8 min on one core) learned
the world's nouns, and not its verbs (the Table 1 premise)."""

import os
from pathlib import Path

import pytest

from conftest import same_cpu_as_golden

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vit():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from vdi_core.mini.build import MiniBuild, default_cache_dir
    from vdi_core.towers.clip import load_clip

    build = MiniBuild(Path(default_cache_dir()), log=lambda s: None)
    model, _, tokenizer = load_clip(build.clip_spec("vit-joint"))
    return build.world, model, tokenizer


def test_micro_clip_learned_the_nouns(vit):
    from vdi_core.mini.probes import zero_shot

    world, model, tok = vit
    acc = zero_shot(model, tok, world)
    # measured at seed 0: colour 0.77, shape 0.45, the actor's grid cell 0.56, box position 0.61
    # (chance 0.17 / 0.17 / 0.11 / 0.25). Rung P0 asks 2x chance of each: shape meets it since the
    # convolutional trunk (A21; 0.23 with linear patches, docs/PREMISE.md)
    assert acc["colour_acc"] > 3 * acc["colour_chance"]  # 0.5
    assert acc["shape_acc"] > 2 * acc["shape_chance"]  # 0.33: P0
    assert acc["position_acc"] > 4 * acc["position_chance"]  # 0.44: captions that always place the actors
    # the box is named with the words that place every actor (0.88 in the first world, 0.33 with
    # linear patches mean-pooled, 0.61 with the trunk)
    assert acc["box_position_acc"] > acc["box_position_chance"] + 0.2


def test_verbs_stay_near_chance_while_nouns_do_not(vit):
    from vdi_core.mini.probes import svo_premise

    world, model, tok = vit
    acc = svo_premise(model, tok, world)
    # measured: subject 0.90, verb 0.38, object 0.93
    assert acc["object_acc"] > 0.65 and acc["subject_acc"] > 0.6
    assert acc["verb_acc"] < 0.6
    assert acc["object_acc"] - acc["verb_acc"] > 0.2


def test_cache_probe_prints_the_acceptance_tables(vit, capsys):
    from vdi_core.cli import main
    from vdi_core.mini.build import default_cache_dir

    assert main(["cache", "probe", "--models", "vit-joint", "--count", "250", "--verb-backbones", "vit-joint",
                 "--cache-dir", str(default_cache_dir())]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| vit-joint |"))
    colour, shape, position, box = (float(x) for x in row.strip("| ").split("|")[1:])
    assert colour > 0.5 and shape > 0.33 and position > 0.44  # the nouns, far above chance (0.17, 0.17, 0.11)
    exact = same_cpu_as_golden()  # exact pins hold on the kind of CPU they were measured on
    if exact:
        assert "| vit-joint | 0.88 | 0.43 | 0.95 |" in out  # the seed-0 premise, as docs/PREMISE.md reports it
        # the linear read-out of the frame feature (docs/PREMISE.md): shape, where a lone actor is, its size
        assert "| vit-joint | 0.61 | 0.87 | 0.83 |" in out
    # the verb read-out (docs/PREMISE.md): every verb read, the four moves included
    assert ("| backbone | all | appear | grow | move_down | move_left | move_right | move_up | shrink | turn | "
            "vanish |") in out
    # Seed-0 values as docs/PREMISE.md reports them (A22's world, built on an AVX2 machine); an
    # MLP fitted on float16 features moves a query or two between builds, so each cell is checked to 0.03.
    cells = next(line for line in out.splitlines()[::-1] if line.startswith("| vit-joint |")).strip("| ").split("|")
    got = [float(x) for x in cells[1:]]
    if exact:
        assert got == pytest.approx([0.85, 0.73, 0.87, 0.84, 0.89, 0.82, 0.89, 0.87, 0.94, 0.82], abs=0.03)
    assert min(got[3:7]) > 0.5  # the moves, at chance (0.15-0.22) in the first world's micro-ViT
    assert main(["cache", "probe", "--models", "vit-joint", "--verb-backbones", "gt-state-static"]) == 2
    assert "did you mean 'gt-states-static'" in capsys.readouterr().err
    assert main(["cache", "probe", "--models", "vit-jont"]) == 2
    assert "did you mean 'vit-joint'" in capsys.readouterr().err


def test_diagnose_trains_a_row_and_scores_its_pairs(vit, capsys):
    """End to end on the default world: the pair counts are the world's, the scores lie in [0, 1]."""
    from vdi_core.cli import main

    assert main(["diagnose", "table6", "mmn_vit_joint"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("table6:mmn_vit_joint seed 0: verb pairs ")
    assert " of 540, noun pairs " in out and out.endswith(" of 348 (a model blind to them: 0.500)")
    assert main(["diagnose", "table6", "mmn_vit_jont"]) == 2
    assert "did you mean 'mmn_vit_joint'" in capsys.readouterr().err
