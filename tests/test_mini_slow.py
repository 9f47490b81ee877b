"""Slow: the default micro-CLIP (built into the cache on first use, ~3-4 min on 2 cores) learned
the world's nouns, and not its verbs (the Table 1 premise)."""

import os
from pathlib import Path

import pytest

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
    # measured at seed 0 (compact vocabulary, A18): colour 0.70, box position 0.88, shape 0.22
    # (chance 0.17 / 0.25 / 0.17); shape misses the 2x-chance rung P0 (see the mini README)
    assert acc["colour_acc"] > 3 * acc["colour_chance"]  # 0.5
    assert acc["box_position_acc"] > 0.8


def test_verbs_stay_near_chance_while_nouns_do_not(vit):
    from vdi_core.mini.probes import svo_premise

    world, model, tok = vit
    acc = svo_premise(model, tok, world)
    # measured: subject 0.58, verb 0.54, object 1.00
    assert acc["object_acc"] > 0.9
    assert acc["verb_acc"] < 0.6
    assert acc["object_acc"] - acc["verb_acc"] > 0.3


def test_cache_probe_prints_the_acceptance_tables(vit, capsys):
    from vdi_core.cli import main
    from vdi_core.mini.build import default_cache_dir

    assert main(["cache", "probe", "--models", "vit-joint", "--count", "250", "--verb-backbones", "vit-joint",
                 "--cache-dir", str(default_cache_dir())]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| vit-joint |"))
    colour, shape, box = (float(x) for x in row.strip("| ").split("|")[1:])
    assert colour > 0.5 and box > 0.8  # the nouns, far above chance (0.17, 0.25)
    assert "| vit-joint | 0.58 | 0.54 | 1.00 |" in out  # the seed-0 premise, as the mini README reports it
    # the linear read-out of the frame feature (docs/PREMISE.md): little shape or position in it
    assert "| vit-joint | 0.23 | 0.32 | 0.76 |" in out
    # the verb read-out (docs/PREMISE.md): appear / turn are read, the four moves at about chance
    assert ("| backbone | all | appear | grow | move_down | move_left | move_right | move_up | shrink | turn | "
            "vanish |") in out
    # Seed-0 values as docs/PREMISE.md reports them; an MLP fitted on float16 features moves a query or two
    # between builds (CI measured grow 0.71 / shrink 0.59), so each cell is checked to 0.03.
    cells = next(line for line in out.splitlines()[::-1] if line.startswith("| vit-joint |")).strip("| ").split("|")
    got = [float(x) for x in cells[1:]]
    assert got == pytest.approx([0.49, 0.89, 0.69, 0.17, 0.22, 0.15, 0.18, 0.60, 0.80, 0.68], abs=0.03)
    assert max(got[3:7]) < 0.3 < min(got[1], got[8])  # the moves at about chance, appear / turn read
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
    assert " of 542, noun pairs " in out and out.endswith(" of 314 (a model blind to them: 0.500)")
    assert main(["diagnose", "table6", "mmn_vit_jont"]) == 2
    assert "did you mean 'mmn_vit_joint'" in capsys.readouterr().err
