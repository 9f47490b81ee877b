"""A run key moves whenever a number can, and only then.

Each test changes one input of a row (world.toml, the models, the spec row, the recipe, the device
kind, the code or task version, the seed) and asserts the key moves; or one thing that cannot
change a number (row order, which table the row is in, comments, whitespace, key order) and
asserts it does not. The real specs of Table 1 (probe), Figure 1 (word_weights) and Table 2
(grounding) are planned on the mini profile: planning reads world.toml's hash, builds nothing.
"""

import dataclasses
import shutil

import pytest

import vdi_core.runner as runner
from vdi_core import tasks
from vdi_core.mini import build as build_mod
from vdi_core.mini import world as world_mod
from vdi_core.runner import plan
from vdi_core.spec import find_spec, load_spec

import toytask  # noqa: F401 - registers the toy task
from toytask import write_spec

REAL = ("table1", "fig1", "table2")


def keys(spec, profile="mini", **kw) -> dict[tuple[str, int], str]:
    return {(p.row, p.seed): p.key for p in plan(spec, profile, **kw)}


def toy_keys(path, **kw) -> dict:
    return keys(load_spec(path), **kw)


@pytest.fixture
def world_copy(tmp_path, monkeypatch, isolated_store):
    """Point the mini profile at a copy of world.toml that a test may edit."""
    path = tmp_path / "world.toml"
    shutil.copyfile(world_mod.WORLD_TOML, path)
    monkeypatch.setattr(world_mod, "WORLD_TOML", path)
    return path


def _real_keys():
    return {t: keys(find_spec(t)) for t in REAL}


def _all_moved(before: dict, after: dict) -> None:
    for table in REAL:
        assert before[table].keys() == after[table].keys()
        moved = [k for k in before[table] if before[table][k] != after[table][k]]
        assert len(moved) == len(before[table]), f"{table}: keys kept for {set(before[table]) - set(moved)}"


# --- inputs that can change a number: the key moves ----------------------------------------------


def test_world_seed_moves_every_mini_key(world_copy):
    before = _real_keys()
    world_copy.write_text(world_copy.read_text().replace("seed = 0 ", "seed = 1 ", 1))
    _all_moved(before, _real_keys())


def test_world_video_section_moves_every_mini_key(world_copy):
    """[video] is not a model input, but it changes the data: Table 1 / Figure 1 too (their toy
    triplets and sentences come from the same world)."""
    before = _real_keys()
    world_copy.write_text(world_copy.read_text().replace("fps = 4.0", "fps = 5.0", 1))
    _all_moved(before, _real_keys())


def test_world_render_section_moves_the_model_fingerprint(world_copy):
    """[render] is a model input (MODEL_INPUTS): the micro-CLIPs change, so the model part moves."""
    spec = find_spec("table1")
    before = plan(spec, "mini")[0].identity["fingerprints"]
    world_copy.write_text(world_copy.read_text().replace("noise = 12.0", "noise = 11.0", 1))
    after = plan(spec, "mini")[0].identity["fingerprints"]
    assert after["model"] != before["model"] and after["data"] != before["data"]


def test_mini_build_code_version_moves_every_mini_key(world_copy, monkeypatch):
    before = _real_keys()
    monkeypatch.setattr(build_mod, "CODE_VERSION", build_mod.CODE_VERSION + "x")
    _all_moved(before, _real_keys())


def test_backbone_moves_the_key(tmp_path, isolated_store):
    spec = find_spec("table1")
    path = tmp_path / "table1.toml"
    path.write_text(open(spec.path, encoding="utf-8").read().replace(
        '"data.backbone" = "vit-joint"', '"data.backbone" = "resnet-joint"'))
    assert set(keys(load_spec(path)).values()).isdisjoint(keys(spec).values())


def test_paper_weights_file_bytes_move_the_key(tmp_path, isolated_store, monkeypatch):
    """Own CLIP weights (data.weights): their content, not just their path, is in the key."""
    monkeypatch.setenv("VDI_DATA", str(tmp_path / "data"))
    weights = tmp_path / "clip.pt"
    weights.write_bytes(b"weights v1")
    spec = find_spec("table1")
    path = tmp_path / "table1.toml"
    path.write_text(open(spec.path, encoding="utf-8").read().replace(
        '"data.backbone" = "vit-joint"', f'"data.backbone" = "vit-joint"\n"data.weights" = "{weights}"'))
    before = keys(load_spec(path), "paper")
    weights.write_bytes(b"weights v2, other bytes")
    after = keys(load_spec(path), "paper")
    assert before.keys() == after.keys() and all(before[k] != after[k] for k in before)


def test_row_override_moves_only_that_row(tmp_path, isolated_store):
    path = write_spec(tmp_path)
    before = toy_keys(path)
    path.write_text(path.read_text().replace("overrides = { a = 2.0 }", "overrides = { a = 2.5 }"))
    after = toy_keys(path)
    assert all(before[k] != after[k] for k in before if k[0] == "high")
    assert all(before[k] == after[k] for k in before if k[0] == "low")


def test_recipe_profile_overrides_move_the_key(tmp_path, isolated_store):
    path = write_spec(tmp_path)
    before = toy_keys(path)
    path.write_text(path.read_text().replace("[profiles.mini]\nseeds = 3",
                                             "[profiles.mini]\nseeds = 3\noverrides = { \"knobs.scale\" = 2.0 }"))
    after = toy_keys(path)
    assert before.keys() == after.keys() and all(before[k] != after[k] for k in before)
    # a recipe change for the other profile does not touch mini keys
    path.write_text(path.read_text() + '\n[profiles.paper]\noverrides = { b = 7 }\n')
    assert toy_keys(path) == after


def test_base_moves_the_key(tmp_path, isolated_store):
    path = write_spec(tmp_path)
    before = toy_keys(path)
    path.write_text(path.read_text().replace('task = "toy"', 'task = "toy"\nbase = { b = 3 }'))
    assert all(before[k] != v for k, v in toy_keys(path).items())


def test_device_kind_moves_the_key_but_not_the_device_index(tmp_path, isolated_store):
    path = write_spec(tmp_path)
    cpu, cuda = toy_keys(path, device="cpu"), toy_keys(path, device="cuda")
    assert all(cpu[k] != cuda[k] for k in cpu)
    assert toy_keys(path, device="cuda:1") == cuda  # which GPU of a kind runs it cannot change a number


def test_code_version_moves_the_key(tmp_path, isolated_store, monkeypatch):
    path = write_spec(tmp_path)
    before = toy_keys(path)
    monkeypatch.setattr(runner, "CODE_VERSION", runner.CODE_VERSION + ".1")
    assert all(before[k] != v for k, v in toy_keys(path).items())


def test_task_version_moves_the_key(tmp_path, isolated_store, monkeypatch):
    path = write_spec(tmp_path)
    before = toy_keys(path)
    monkeypatch.setitem(tasks.TASKS._entries, "toy", dataclasses.replace(tasks.get_task("toy"), version="2"))
    assert all(before[k] != v for k, v in toy_keys(path).items())


def test_task_fingerprint_moves_the_key(tmp_path, isolated_store, monkeypatch):
    path = write_spec(tmp_path)
    before = toy_keys(path)
    monkeypatch.setitem(tasks.TASKS._entries, "toy", dataclasses.replace(
        tasks.get_task("toy"), fingerprint=lambda cfg, ctx: {"data": "toy-v2"}))
    assert all(before[k] != v for k, v in toy_keys(path).items())


def test_seed_moves_the_key(tmp_path, isolated_store):
    k = toy_keys(write_spec(tmp_path))
    assert len({k[("low", s)] for s in range(3)}) == 3


# --- things that cannot change a number: the key stays ---------------------------------------------


def test_row_order_and_extra_rows_keep_the_keys(tmp_path, isolated_store):
    path = write_spec(tmp_path)
    before = toy_keys(path)
    text = path.read_text()
    head, low, high = text.split("[[rows]]")[0], text.split("[[rows]]")[1], text.split("[[rows]]")[2]
    high, claims = high.split("[[claims]]")
    extra = ('[[rows]]\nid = "mid"\nsettings = { a = 9 }\noverrides = { a = 9.0 }\n'
             'reference = { score = 1, other = 1 }\n')
    path.write_text(head + "[[rows]]" + high + extra + "[[rows]]" + low + "[[claims]]" + claims)
    after = toy_keys(path)
    assert {k: v for k, v in after.items() if k[0] != "mid"} == before


def test_the_table_a_row_appears_in_keeps_its_key(tmp_path, isolated_store):
    a = toy_keys(write_spec(tmp_path, id="ta"))
    other = toy_keys(write_spec(tmp_path, id="tb"))
    assert a == other


def test_comments_whitespace_and_key_order_keep_the_keys(tmp_path, isolated_store):
    path = write_spec(tmp_path)
    before = toy_keys(path)
    text = path.read_text().replace("overrides = { a = 2.0 }", "overrides = { b = 2,   a = 2 }  # same values")
    path.write_text("# a comment\n\n" + text.replace("\n", "\n\n"))
    assert toy_keys(path) == before


def test_world_comments_and_whitespace_keep_the_keys(world_copy):
    before = _real_keys()
    text = world_copy.read_text()
    world_copy.write_text("# an added comment\n\n" + text.replace("fps = 4.0", "fps =     4.0   # more words"))
    assert _real_keys() == before


def test_settings_labels_and_references_keep_the_keys(tmp_path, isolated_store):
    """What the table shows (settings, labels, paper references, claims) is not what runs."""
    path = write_spec(tmp_path)
    before = toy_keys(path)
    path.write_text(path.read_text().replace('label = "Score"', 'label = "Points"')
                    .replace("reference = { score = 12.0, other = 88.0 }", "reference = { score = 13.0, other = 87.0 }")
                    .replace("settings = { a = 1 }", 'settings = { a = "one" }'))
    assert toy_keys(path) == before
