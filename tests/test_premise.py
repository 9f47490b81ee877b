"""The premise ladder's machinery: ground-truth state features, the bag-of-words text side, the
masked-novel-word knob, the run keys of the premise rows, the threshold claims and `vdi check`."""

import copy
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from vdi_core.check import check
from vdi_core.claims import Cell, evaluate_claim
from vdi_core.errors import VdiError
from vdi_core.mini import build as build_mod
from vdi_core.mini import loaders as sources
from vdi_core.mini import states
from vdi_core.mini import world as W
from vdi_core.render import render_table, write_table
from vdi_core.runner import execute, load_results, plan
from vdi_core.spec import find_spec, load_spec
from vdi_core.tasks import RunContext
from vdi_core.towers.bow import BagOfWordsTower
from vdi_core.towers.factory import build_text_tower

import toytask  # noqa: F401
from toytask import write_spec

WORLD = W.load_world()


def _script(events):
    return W.Script("v", ["circle", "ring"], ["red", "green"], [10.0, 12.0], [(8.0, 16.0), (24.0, 8.0)],
                    ("left", "yellow"), events, bg_seed=0)


def _channel(world, name):
    return states.channel_names(world).index(name)


def test_states_of_a_hand_made_script():
    T, S = WORLD["video"]["frames"], WORLD["render"]["size"]
    events = [W.Event(0, "move_right", 10, 20, amount=8.0), W.Event(1, "turn", 30, 40, new_colour="blue"),
              W.Event(1, "appear", 0, 4)]
    x = states.script_states(WORLD, _script(events))
    n_words = len(WORLD["vocab"]["colours"]) + len(WORLD["vocab"]["shapes"])
    assert x.shape == (T, n_words * 8 + len(WORLD["vocab"]["colours"]) + 4) == (T, len(states.channel_names(WORLD)))
    assert x.dtype == np.float32
    c = lambda name: x[:, _channel(WORLD, name)]  # noqa: E731
    # the red circle: present throughout, at x = 8 px before its move and 16 px after it
    np.testing.assert_allclose(c("red.presence"), 1.0)
    np.testing.assert_allclose(c("circle.x")[:10], 8 / S, rtol=1e-6)
    np.testing.assert_allclose(c("circle.x")[20:], 16 / S, rtol=1e-6)
    np.testing.assert_allclose(c("red.y"), 16 / S, rtol=1e-6)
    np.testing.assert_allclose(c("circle.size"), 10 / S, rtol=1e-6)
    # moving 8 px over 10 frames: 0.8 px a frame inside the move (first frame half), 0 outside
    np.testing.assert_allclose(c("circle.dx")[11:20], 0.8 / S * states.VELOCITY_SCALE, rtol=1e-5)
    assert c("circle.dx")[10] == pytest.approx(0.4 / S * states.VELOCITY_SCALE, rel=1e-5)
    assert np.all(c("circle.dx")[21:] == 0) and np.all(c("circle.dy") == 0)
    # the static variant (rung P2a) is the same states without the change channels, nothing else
    static = states.script_states(WORLD, _script(events), change=False)
    names = states.channel_names(WORLD, change=False)
    assert static.shape == (T, len(names)) == (T, n_words * 4 + len(WORLD["vocab"]["colours"]) + 4)
    assert not any(".d" in n for n in names)
    np.testing.assert_array_equal(static, x[:, [_channel(WORLD, n) for n in names]])
    # the ring appears over frames 0..3, then turns from green to blue over 30..39
    np.testing.assert_allclose(c("ring.presence")[:4], [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(c("ring.presence")[4:], 1.0)
    np.testing.assert_allclose(c("green.presence")[4:30], 1.0)
    np.testing.assert_allclose(c("green.presence")[40:], 0.0, atol=1e-7)
    np.testing.assert_allclose(c("blue.presence")[40:], 1.0)
    np.testing.assert_allclose(c("green.presence")[30:40] + c("blue.presence")[30:40], 1.0, rtol=1e-6)
    np.testing.assert_allclose(c("blue.x")[40:], 24 / S, rtol=1e-6)  # presence-weighted: the ring's x
    assert np.all(c("purple.presence") == 0) and np.all(c("square.presence") == 0)
    # the landmark: a yellow box on the left, every frame
    assert np.all(c("box.yellow") == 1) and np.all(c("box.left") == 1) and np.all(c("box.red") == 0)


def tiny_world():
    w = copy.deepcopy(WORLD)
    w["splits"].update(train=4, test=3, novel_word=3, novel_composition=3)
    return w


@dataclass
class _Data:
    backbone: str = "gt-states"
    train_split: str = "charades_cg/train"
    eval_split: str = "charades_cg/novel_word"
    patch_frames: int = 4
    text_tower: str = "bag-of-words"
    mask_novel_words: bool = False


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setattr(W, "load_world", tiny_world)
    return RunContext(profile="mini", seed=0, device="cpu", work_dir=tmp_path, cache_dir=tmp_path / "cache",
                      log=lambda s: None)


def test_gt_states_source_caches_tags_and_masks(tiny):
    splits = sources.grounding(_Data(), tiny)
    build = build_mod.MiniBuild(tiny.cache_dir, log=lambda s: None)
    assert states.states_path(build, "novel_word", "gt-states").is_file()
    assert splits.feature_dim == len(states.channel_names(build.world))
    static = sources.grounding(_Data(backbone="gt-states-static"), tiny)
    assert static.feature_dim == len(states.channel_names(build.world, change=False)) < splits.feature_dim
    assert states.states_path(build, "novel_word", "gt-states-static").is_file()
    assert static.fingerprint != splits.fingerprint
    assert all(v.patches is None for v in splits.train)  # no patch features (A11)
    novel = set(build.world["splits"]["novel_words"])
    for v in splits.eval:
        for q in v.queries:
            assert set(q.sentence.split()) & novel and q.actor in ("actor0", "actor1") and q.verb in W.grammar.ACTIONS
    masked = sources.grounding(_Data(mask_novel_words=True), tiny)
    pairs = [(q.sentence, m.sentence) for v, w in zip(splits.eval, masked.eval) for q, m in zip(v.queries, w.queries)]
    for intact, hidden in pairs:
        assert not set(hidden.split()) & novel and sources.MASK_WORD in hidden.split()
        assert hidden == " ".join(sources.MASK_WORD if w in novel else w for w in intact.split())
    assert masked.fingerprint != splits.fingerprint
    # the features themselves are the world's, whatever the text says
    np.testing.assert_array_equal(masked.eval[0].frames, splits.eval[0].frames)


def test_mask_words_replaces_whole_words_only():
    assert sources.mask_words("the purple ring grows near the purple box", ("purple", "ring")) == \
        "the something something grows near the something box"
    assert sources.mask_words("a purpler ringer", ("purple", "ring")) == "a purpler ringer"
    v = WORLD["vocab"]
    assert sources.MASK_WORD not in W.grammar.all_words(list(v["colours"]), v["shapes"], v["landmark_positions"])


def test_the_gt_states_key_moves_when_the_world_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("VDI_CACHE", str(tmp_path / "cache"))
    spec = find_spec("premise")
    key = {p.row: p.key for p in plan(spec, "mini", seeds=1)}
    moved = copy.deepcopy(WORLD)
    moved["render"]["move_step"] = [5, 6]
    monkeypatch.setattr(W, "load_world", lambda: moved)
    key2 = {p.row: p.key for p in plan(spec, "mini", seeds=1)}
    assert key2["gt_states_test"] != key["gt_states_test"] and key2["gt_static_test"] != key["gt_static_test"]
    assert set(key) == set(key2) and all(key[r] != key2[r] for r in key)


def test_states_version_is_part_of_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("VDI_CACHE", str(tmp_path / "cache"))
    spec = find_spec("premise")
    before = [p.key for p in plan(spec, "mini", seeds=1, rows=["gt_states_test"])]
    monkeypatch.setattr(states, "STATES_VERSION", "test-bump")
    assert [p.key for p in plan(spec, "mini", seeds=1, rows=["gt_states_test"])] != before


def test_bag_of_words_tower(tiny):
    spec = sources.bag_of_words_spec(build_mod.MiniBuild(tiny.cache_dir, log=lambda s: None))
    torch.manual_seed(0)
    tower = build_text_tower(spec)
    assert isinstance(tower, BagOfWordsTower) and tower.dim == sources.BOW_DIM
    enc = tower(["The red circle grows", "a zorblax shrinks near the green box"])
    assert enc.tokens.shape == (2, 7, sources.BOW_DIM) and enc.sentence.shape == (2, sources.BOW_DIM)
    assert enc.mask.sum(1).tolist() == [4, 7]
    assert enc.ids[1, 1].item() == 0 and enc.ids[0, 1].item() == tower.vocab["red"]  # unknown word -> <unk>
    assert enc.spans[0][:4] == [(0, 3), (4, 7), (8, 14), (15, 20)] and enc.spans[0][4] == (-1, -1)
    assert [w.text for w in enc.words[0]] == ["the", "red", "circle", "grows"]
    # the sentence feature is the mean of the word states (padding excluded)
    torch.testing.assert_close(enc.sentence[0], enc.tokens[0, :4].mean(0))
    # word order matters (position embeddings): the same words in another order give another feature
    swapped = tower(["the green circle grows near the red box", "the red circle grows near the green box"])
    assert not torch.allclose(swapped.sentence[0], swapped.sentence[1])
    # every world word has a row; the vocabulary file is what the fingerprint names
    cfg = json.loads(open(spec.config_path).read())
    assert {"purple", "ring", "grows", "box"} <= set(cfg["words"]) and spec.fingerprint.startswith("bag-of-words-")


def test_paper_profile_refuses_the_premise_knobs():
    from vdi_core.data.paper_grounding import _backbone

    @dataclass
    class D:
        backbone: str = "vit-joint"
        text_tower: str = "bag-of-words"
        mask_novel_words: bool = False

    with pytest.raises(VdiError, match="premise-ladder knobs of the mini profile"):
        _backbone(D())
    with pytest.raises(VdiError, match="premise-ladder knobs"):
        _backbone(D(text_tower="backbone", mask_novel_words=True))


# --- threshold claims: spec validation, evaluation, `vdi check` ---------------------------------

AT_LEAST = '''
[[claims]]
id = "high_is_high"
text = "high scores at least 22"
kind = "at_least"
row = "high"
metrics = ["score"]
value = 22.0
'''


def _bad(tmp_path, extra):
    with pytest.raises(VdiError) as e:
        load_spec(write_spec(tmp_path, extra=extra))
    return str(e.value)


def test_at_least_and_margin_load(tmp_path):
    spec = load_spec(write_spec(tmp_path, extra=AT_LEAST + AT_LEAST.replace("high_is_high", "b").replace(
        'kind = "at_least"\nrow = "high"', 'kind = "greater"\na = "high"\nb = "low"').replace("value = 22.0",
                                                                                           "margin = 9.5")))
    c1, c2 = spec.claims[1], spec.claims[2]
    assert (c1.kind, c1.row, c1.value, c1.margin) == ("at_least", "high", 22.0, 0.0)
    assert (c2.kind, c2.a, c2.b, c2.margin, c2.value) == ("greater", "high", "low", 9.5, None)


def test_threshold_claims_validation(tmp_path):
    assert "needs 'value'" in _bad(tmp_path, AT_LEAST.replace("value = 22.0\n", ""))
    assert "needs 'row'" in _bad(tmp_path, AT_LEAST.replace('row = "high"\n', ""))
    assert "did you mean 'at_least'" in _bad(tmp_path, AT_LEAST.replace('"at_least"', '"at_lest"'))
    assert "did you mean 'margin'" in _bad(tmp_path, AT_LEAST.replace("value = 22.0", "margn = 1.0"))
    assert "'margin' applies to kind 'greater' only" in _bad(tmp_path, AT_LEAST.replace("value", "margin = 1.0\nvalue"))
    assert "margin must be >= 0" in _bad(tmp_path, AT_LEAST.replace(
        'kind = "at_least"\nrow = "high"', 'kind = "greater"\na = "high"\nb = "low"').replace("value = 22.0",
                                                                                           "margin = -1.0"))
    assert "'value' applies to kind 'at_least' only" in _bad(tmp_path, AT_LEAST.replace(
        'kind = "at_least"', 'kind = "max"'))
    assert "must be float" in _bad(tmp_path, AT_LEAST.replace("22.0", '"high"'))
    assert "unknown metric 'scroe'" in _bad(tmp_path, AT_LEAST.replace('["score"]', '["scroe"]'))


def test_threshold_claims_evaluate_hand_computed(tmp_path):
    spec = load_spec(write_spec(tmp_path, extra=AT_LEAST))
    cells = {"high": {"score": Cell((22.0, 23.0, 24.0))}, "low": {"score": Cell((12.0, 13.0, 14.0))}}
    claim = spec.claims[1]
    assert evaluate_claim(spec, claim, cells, "mini") == (True, "score: 23.00 ≥ 22")
    assert evaluate_claim(spec, claim, {"high": {"score": Cell((21.9,))}}, "mini")[0] is False
    assert evaluate_claim(spec, claim, {}, "mini")[0] is None
    from dataclasses import replace

    greater = replace(spec.claims[0], margin=9.5)  # 23 vs 13: 10 > 9.5 holds, 10 > 10.5 does not
    assert evaluate_claim(spec, greater, cells, "mini") == (True, "score: 23.00 > 13.00 + 9.5")
    assert evaluate_claim(spec, replace(greater, margin=10.5), cells, "mini")[0] is False
    assert evaluate_claim(spec, replace(greater, margin=10.0), cells, "mini")[0] is False  # strictly more


def test_check_fails_when_a_rung_stops_holding(tmp_path, isolated_store):
    spec = load_spec(write_spec(tmp_path, extra=AT_LEAST))
    tables = tmp_path / "tables"
    planned = plan(spec, "mini")
    execute(planned, log=lambda s: None)
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    assert check([spec], "mini", tables_root=tables, update_golden=True).ok
    golden = json.loads((tables / "mini" / "golden.json").read_text())
    assert golden["tables"]["toy1"]["claims"]["high_is_high"] == "holds"  # toy: high = 22, 23, 24
    # a re-run where `high` drops to 21.9 on every seed: within no tolerance, and the rung fails
    from vdi_core.paths import results_root
    from vdi_core.store import RunStore

    for p in planned:
        if p.row == "high":
            store = RunStore(results_root(), p.profile)
            rec = store.load(p.key)
            rec["metrics"]["score"] = 21.9
            store.save(p.key, rec)
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    rep = check([spec], "mini", tables_root=tables)
    assert not rep.ok
    assert any(f.startswith("toy1 | claim 'high_is_high' held in golden but is contradicted now:")
               and "score: 21.90 < 22" in f for f in rep.failures), rep.failures


def test_premise_spec():
    spec = find_spec("premise")
    assert not spec.rows_for("paper") and {c.kind for c in spec.claims} == {"at_least", "greater"}
    ids = {r.id for r in spec.rows}
    assert {"mmn_test", "mmn_novel_word", "upper_test", "upper_novel_word", "upper_novel_word_masked",
            "gt_states_test", "gt_static_test"} <= ids
    # P2a is the upper bound's head and text side on other features: only the features differ
    rows = {r.id: dict(r.overrides) for r in spec.rows}
    strip = lambda o: {k: v for k, v in o.items() if k != "data.backbone"}  # noqa: E731
    assert strip(rows["gt_static_test"]) == rows["upper_test"] and rows["gt_static_test"]["data.backbone"]
    # the baselines are the very runs of Table 6 and Table 2 (one stored result serves both)
    premise = {p.row: p.key for p in plan(spec, "mini", seeds=1)}
    t6 = {p.row: p.key for p in plan(find_spec("table6"), "mini", seeds=1)}
    t2 = {p.row: p.key for p in plan(find_spec("table2"), "mini", seeds=1)}
    assert premise["mmn_test"] == t6["mmn_vit_joint"] and premise["mmn_novel_word"] == t2["vc0_sd0"]


def test_diagnose_reads_the_pairs_of_a_stored_run(isolated_store, capsys):
    """No re-implementation of the run: diagnose prints what the stored grounding result holds."""
    from vdi_core.cli import main
    from vdi_core.paths import results_root
    from vdi_core.store import RunStore

    p = [p for p in plan(find_spec("table6"), "mini", seeds=1, rows=["mmn_vit_joint"])][0]
    store = RunStore(results_root(), "mini")
    record = {"key": p.key, **p.identity, "metrics": {"R@1,IoU=0.5": 28.0, "verb_pairs": 0.5391, "noun_pairs": 0.625},
              "curves": {}, "extra": {"counts": {"verb_pairs_count": 542, "noun_pairs_count": 314}},
              "provenance": {"device": "cpu", "assumptions": [], "packages": {}, "git_commit": "test",
                             "finished": "2026-12-01T00:00:00+00:00"}}
    store.save(p.key, record)
    assert main(["diagnose", "table6", "mmn_vit_joint"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "table6:mmn_vit_joint seed 0: verb pairs 0.539 of 542, noun pairs 0.625 of 314 (a model blind to them: 0.500)")
    del record["metrics"]["verb_pairs"]
    store.save(p.key, record)
    assert main(["diagnose", "table6", "mmn_vit_joint"]) == 2
    assert "has no verb_pairs" in capsys.readouterr().err
    assert main(["diagnose", "table6", "fixed_prior"]) == 2
    assert "trains no model" in capsys.readouterr().err
    assert main(["diagnose", "table1", "x"]) == 2


def test_all_tables_include_the_premise_on_mini_only():
    from vdi_core.commands.suite import _tables

    assert "premise" in _tables(["all"], "mini") and "premise" in _tables([])
    assert "premise" not in _tables(["all"], "paper") and "table6" in _tables(["all"], "paper")
    assert _tables(["premise"], "paper") == ["premise"]  # named explicitly: rendered (empty), not hidden


def test_check_fails_when_a_premise_rung_stops_holding(tmp_path, isolated_store):
    """The real premise spec on a synthetic store (no training): every rung holds, the golden file
    records it, then P2a's row drops below 0.90 and `vdi check` fails naming the rung."""
    from vdi_core.paths import results_root
    from vdi_core.store import RunStore

    spec = find_spec("premise")
    planned = plan(spec, "mini")  # the spec's seeds, as `vdi check` plans them
    made = {"mmn_test": (28.0, 0.55, 0.62), "mmn_novel_word": (21.0, 0.52, 0.60), "upper_test": (50.0, 0.80, 0.70),
            "upper_novel_word": (35.0, 0.78, 0.65), "upper_novel_word_masked": (30.0, 0.77, 0.55),
            "mmn_novel_word_masked": (20.0, 0.52, 0.55), "gt_states_test": (90.0, 0.95, 0.90),
            "gt_static_test": (85.0, 0.92, 0.85), "gt_static_mmn_map_test": (40.0, 0.70, 0.60),
            "upper_mmn_map_test": (40.0, 0.65, 0.65), "bow_test": (45.0, 0.75, 0.70),
            "mmn_head_rate_test": (45.0, 0.78, 0.72)}
    assert set(made) == {p.row for p in planned}
    store = RunStore(results_root(), "mini")

    def save(p, r1, verbs, nouns):
        store.save(p.key, {"key": p.key, **p.identity, "curves": {}, "extra": {},
                           "metrics": {"R@1,IoU=0.5": r1, "verb_pairs": verbs, "noun_pairs": nouns},
                           "provenance": {"device": "cpu", "assumptions": [], "packages": {}, "git_commit": "x",
                                          "finished": "2026-12-01T00:00:00Z"}})

    for p in planned:
        save(p, *made[p.row])
    tables = tmp_path / "tables"
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    assert check([spec], "mini", tables_root=tables, update_golden=True).ok
    claims = json.loads((tables / "mini" / "golden.json").read_text())["tables"]["premise"]["claims"]
    assert claims == {c.id: "holds" for c in spec.claims}
    for gt in (p for p in planned if p.row == "gt_static_test"):
        save(gt, 85.0, 0.89, 0.85)  # 0.03 below golden: a drift failure and a rung failure
    write_table(spec, "mini", render_table(spec, "mini", planned, load_results(planned)), tables)
    rep = check([spec], "mini", tables_root=tables)
    assert any(f.startswith("premise | claim 'p2a_states_read_verbs' held in golden but is contradicted now:")
               and "verb_pairs: 0.890 < 0.9" in f for f in rep.failures), rep.failures


def test_linear_readout_classifier_separates_what_is_there_and_nothing_else():
    """The read-out of `vdi cache probe`: features that carry the label are read perfectly, features
    that do not are read at chance (4 balanced classes: 0.25), so a low read-out means absent."""
    import torch

    from vdi_core.mini.probes import fit_linear

    gen = torch.Generator().manual_seed(0)
    y = torch.arange(800) % 4
    noise = torch.randn(800, 16, generator=gen)
    carried = noise.clone()
    carried[:, :4] += 5.0 * torch.nn.functional.one_hot(y, 4)
    predict = fit_linear(carried[:400], y[:400], 4)
    assert float((predict(carried[400:]) == y[400:]).float().mean()) > 0.97
    predict = fit_linear(noise[:400], y[:400], 4)
    assert abs(float((predict(noise[400:]) == y[400:]).float().mean()) - 0.25) < 0.08


def _videos_with_changes(n: int, visible: bool, seed: int):
    """Videos of 16 noise frames, two queries each; with `visible`, a query's verb shifts the frame
    features from its moment's first frame on by +/- 6 along its own axis (grow: +axis 0, shrink: -axis 0,
    appear: +axis 1, vanish: -axis 1), as the toy world's verbs change a state between start and end."""
    import numpy as np

    from vdi_core.datatypes import Query, Video

    rng = np.random.default_rng(seed)
    signs = {"grow": (0, 6.0), "shrink": (0, -6.0), "appear": (1, 6.0), "vanish": (1, -6.0)}
    out = []
    for i in range(n):
        x = rng.standard_normal((16, 8)).astype(np.float32)
        queries = []
        for k, (start, end) in enumerate(((2, 6), (9, 13))):
            verb = list(signs)[(2 * i + k) % 4]
            if visible:
                axis, step = signs[verb]
                x[start:, axis] += step
            queries.append(Query(f"v{i}#{k}", verb, (start * 0.5, end * 0.5), actor="actor0", verb=verb))
        out.append(Video(f"v{i}", 8.0, x, None, queries))
    return out


def test_moment_changes_take_the_frames_around_the_moment():
    """Hand-made: frame t holds the value t, so a moment of frames 2..5 (1.0-3.0 s at 2 fps) reads
    frame 6 minus frame 1; a moment from 0 s reads from frame 0, one to the end reads the last frame."""
    import numpy as np

    from vdi_core.datatypes import Query, Video
    from vdi_core.mini.probes import moment_changes

    frames = np.repeat(np.arange(8, dtype=np.float32)[:, None], 3, axis=1)
    v = Video("v", 4.0, frames, None, [Query("a", "s", (1.0, 3.0), verb="grow"),
                                        Query("b", "s", (0.0, 1.0), verb="shrink"),
                                        Query("c", "s", (2.5, 4.0), verb="grow")])
    x, verbs = moment_changes([v])
    assert x[:, 0].tolist() == [6 - 1, 2 - 0, 7 - 4] and verbs == ["grow", "shrink", "grow"]
    from vdi_core.errors import VdiError

    v.queries.append(Query("untagged", "s", (1.0, 2.0)))  # real data: no verb tag
    with pytest.raises(VdiError, match="query untagged has no verb tag"):
        moment_changes([v])


def test_verb_readout_reads_visible_changes_and_nothing_else():
    """The verb read-out of `vdi cache probe`: verbs that change the features are read (nearly)
    perfectly, features that do not change are read at chance (4 balanced verbs: 0.25)."""
    from vdi_core.mini.probes import verb_readout

    seen = verb_readout(_videos_with_changes(120, True, 0), _videos_with_changes(60, True, 1))
    assert seen["acc"] > 0.95 and seen["chance"] == 0.25
    assert set(seen) == {"acc", "chance", "acc_appear", "acc_grow", "acc_shrink", "acc_vanish"}
    blind = verb_readout(_videos_with_changes(120, False, 0), _videos_with_changes(60, False, 1))
    assert abs(blind["acc"] - 0.25) < 0.12
    again = verb_readout(_videos_with_changes(120, False, 0), _videos_with_changes(60, False, 1))
    assert again == blind  # seeded: the same features give the same numbers
