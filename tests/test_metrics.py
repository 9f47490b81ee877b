"""Evaluation: tIoU, greedy NMS, R@n / mIoU against hand-computed rankings, the vectorised evaluator
against the per-query reference loop, `score` on JSON-shaped input, and `vdi score`."""

import importlib.util
import json
import logging
import random
from pathlib import Path

import pytest
import torch

from vdi_core import cli
from vdi_core.errors import VdiError
from vdi_core.grounding.proposals import proposal_mask
from vdi_core.metrics import evaluate, nms, score, tiou
from vdi_core.recall import metric_keys


def _load_reference():
    path = Path(__file__).resolve().parent / "metrics_reference.py"
    spec = importlib.util.spec_from_file_location("vdi_tests_metrics_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()


# --- tIoU and NMS -------------------------------------------------------------------------------

def test_tiou_hand_values_and_broadcasting():
    assert tiou([0.0, 2.0], [0.0, 4.0]) == 0.5
    assert tiou([0.0, 7.0], [0.0, 10.0]) == 0.7  # 7/10 rounds to the same double as 0.7
    assert tiou([0.0, 1.0], [2.0, 3.0]) == 0.0   # disjoint
    assert tiou([0.0, 2.0], [2.0, 3.0]) == 0.0   # touching
    assert tiou([1.0, 1.0], [1.0, 1.0]) == 0.0   # empty union: defined as 0, not NaN
    out = tiou(torch.tensor([[0.0, 4.0], [1.0, 5.0]]), torch.tensor([2.0, 6.0]))
    assert out.tolist() == [2 / 6, 0.6]


def test_nms_hand_computed_with_ties_and_boundary():
    moments = [[0, 4], [0, 2], [1, 5], [6, 8], [0, 4]]
    scores = [0.9, 0.8, 0.8, 0.5, 0.9]
    # rank (stable): 0 (.9), 4 (.9, tie -> later), 1 (.8), 2 (.8), 3 (.5)
    # 4 duplicates 0 (IoU 1) -> suppressed; 1 vs 0: IoU exactly 0.5, not > 0.5 -> kept;
    # 2 vs 0: 3/5 = 0.6 -> suppressed; 3 is disjoint -> kept
    assert nms(moments, scores, 0.5).tolist() == [0, 1, 3]
    assert nms(moments, scores, 0.6).tolist() == [0, 1, 2, 3]   # 0.6 is not > 0.6
    assert nms(moments, scores, None).tolist() == [0, 4, 1, 2, 3]
    assert nms(moments, scores, 0.5, top_k=2).tolist() == [0, 1]
    assert nms(torch.zeros(0, 2), torch.zeros(0)).tolist() == []
    with pytest.raises(VdiError, match="top_k"):
        nms(moments, scores, 0.5, top_k=-1)
    with pytest.raises(VdiError, match="NaN"):
        nms(moments, [0.9, 0.8, float("nan"), 0.5, 0.9])


# --- evaluate: hand-computed 2D maps ----------------------------------------------------------
# N=10, D=10 s: cell (i, j) spans [i, j + 1] seconds, so every tIoU below is an exact ratio.

def _hand_maps():
    n = 10
    s = torch.zeros(3, n, n)
    gt = torch.tensor([[0.0, 10.0], [0.0, 2.0], [5.0, 9.0]])
    # q0: top cell [0, 7] vs gt [0, 10]: tIoU 7/10, exactly at the 0.7 threshold
    s[0, 0, 6] = 0.9
    # q1: top cell [0, 4] vs gt [0, 2]: tIoU exactly 0.5. Then a tie at 0.8 between (0,0) = [0,1]
    # and (0,1) = [0,2]: row-major order puts (0,0) first; both overlap [0, 4] by exactly <= 0.5,
    # so both are kept, and [0, 2] (tIoU 1) is the third kept moment.
    s[1, 0, 3], s[1, 0, 0], s[1, 0, 1] = 0.9, 0.8, 0.8
    # q2: near-duplicates of [0, 4] fill ranks 2..6 and are all suppressed by NMS (IoU > 0.5),
    # so the true moment (5, 8) = [5, 9] at score 0.1 becomes the second kept moment.
    s[2, 0, 3], s[2, 0, 4], s[2, 1, 4], s[2, 0, 2], s[2, 1, 3], s[2, 0, 5] = 0.9, 0.85, 0.8, 0.75, 0.7, 0.65
    s[2, 5, 8] = 0.1
    return s, proposal_mask(n, [9]), torch.full((3,), 10.0), gt


def test_evaluate_hand_computed_rankings():
    out = evaluate(*_hand_maps())
    assert list(out) == metric_keys()
    assert out["R@1,IoU=0.3"] == pytest.approx(200 / 3)   # q0, q1
    assert out["R@1,IoU=0.5"] == pytest.approx(200 / 3)   # q1 counts: tIoU 0.5 >= 0.5
    assert out["R@1,IoU=0.7"] == pytest.approx(100 / 3)   # q0 counts: tIoU 0.7 >= 0.7
    assert out["R@5,IoU=0.3"] == 100.0
    assert out["R@5,IoU=0.5"] == 100.0
    assert out["R@5,IoU=0.7"] == 100.0                    # q1 via its 3rd, q2 via its 2nd moment
    assert out["mIoU"] == pytest.approx((0.7 + 0.5 + 0.0) / 3 * 100, rel=1e-12)


def test_evaluate_without_nms_loses_the_suppressed_hit():
    out = evaluate(*_hand_maps(), nms=None)
    # q2's true moment is 7th by score; q1 still has [0, 2] third
    assert out["R@5,IoU=0.7"] == pytest.approx(200 / 3)
    assert out["R@1,IoU=0.5"] == pytest.approx(200 / 3)


def test_evaluate_tie_rule_is_row_major():
    s, mask, d, _ = _hand_maps()
    s = torch.zeros_like(s[:1])
    s[0, 0, 0] = s[0, 6, 9] = 1.0   # tie: (0, 0) = [0, 1] comes first in row-major order
    out = evaluate(s, mask, d[:1], torch.tensor([[6.0, 10.0]]), ks=(1, 2), ious=(0.5,))
    assert out == {"R@1,IoU=0.5": 0.0, "R@2,IoU=0.5": 100.0, "mIoU": 0.0}
    s[0, 0, 0] = 0.5   # break the tie: now [6, 10] is first
    assert evaluate(s, mask, d[:1], torch.tensor([[6.0, 10.0]]), ks=(1,), ious=(0.5,))["R@1,IoU=0.5"] == 100.0


def test_evaluate_inclusive_threshold_just_below():
    s, mask, d, _ = _hand_maps()
    s = s[:1].clone()
    gt = torch.tensor([[1e-6, 10.0]])   # tIoU of [0, 7] drops just below 0.7
    out = evaluate(s, mask, d[:1], gt, ks=(1,), ious=(0.7,))
    assert out["R@1,IoU=0.7"] == 0.0


def test_evaluate_ignores_masked_cells_and_rejects_bad_input():
    s, mask, d, gt = _hand_maps()
    s[0, 5, 1] = float("nan")   # below the diagonal: not a proposal, never read
    assert evaluate(s, mask, d, gt)["R@1,IoU=0.7"] == pytest.approx(100 / 3)
    huge = s * 3e38   # finite scores whose row sums overflow: still valid input
    assert evaluate(huge, mask, d, gt) == evaluate(s, mask, d, gt)
    bad = s.clone()
    bad[1, 2, 3] = float("nan")
    with pytest.raises(VdiError, match="query index 1"):
        evaluate(bad, mask, d, gt)
    with pytest.raises(VdiError, match="inside"):
        evaluate(s, mask, d, torch.tensor([[0.0, 10.0], [0.0, 2.0], [5.0, 11.0]]))
    with pytest.raises(VdiError, match="inside"):
        evaluate(s, mask, d, torch.tensor([[0.0, 10.0], [2.0, 2.0], [5.0, 9.0]]))
    # float32 moments against float64 durations: an end one float32 ulp past D is rounding, not data
    d64 = torch.full((3,), 10.0000006, dtype=torch.float64)
    gt32 = torch.tensor([[0.0, 10.0000006], [0.0, 2.0], [5.0, 9.0]], dtype=torch.float32)
    assert gt32[0, 1].double() > d64[0]
    assert evaluate(s, mask, d64, gt32)["R@1,IoU=0.3"] == pytest.approx(200 / 3)  # grid scaled by D
    with pytest.raises(VdiError, match="i > j"):
        evaluate(s, torch.ones(10, 10, dtype=torch.bool), d, gt)
    with pytest.raises(VdiError, match="mask"):
        evaluate(s, proposal_mask(16, [15]), d, gt)
    with pytest.raises(VdiError, match="nms"):
        evaluate(s, mask, d, gt, nms=1.5)


# --- vectorised == reference loop -------------------------------------------------------------

@pytest.mark.parametrize("n,counts,nms_t", [(16, [15], 0.5), (16, [7, 4], 0.5), (16, [15], 0.3),
                                            (8, [7], None), (16, [7, 4], 0.0)])
def test_evaluate_equals_reference_loop_on_random_maps(n, counts, nms_t):
    g = torch.Generator().manual_seed(n * 100 + len(counts))
    q = 60
    scores = torch.randint(0, 6, (q, n, n), generator=g).float() / 5   # many ties
    durations = torch.rand(q, generator=g, dtype=torch.float64) * 50 + 5
    starts = torch.rand(q, generator=g, dtype=torch.float64) * 0.7 * durations
    ends = starts + (durations - starts) * (0.1 + 0.9 * torch.rand(q, generator=g, dtype=torch.float64))
    gt = torch.stack([starts, ends], 1)
    gt[:10] = torch.stack([torch.zeros(10), durations[:10] * 4 / n], 1)  # grid-aligned: exact boundaries
    mask = proposal_mask(n, counts)
    ks, ious = (1, 2, 5), (0.1, 0.3, 0.5, 0.7)
    assert evaluate(scores, mask, durations, gt, nms_t, ks, ious) == \
        ref.reference_evaluate(scores, mask, durations, gt, nms_t, ks, ious)


def test_evaluate_bfloat16_scores_equal_reference():
    # bf16 maps (CUDA autocast) carry many exact ties; the tie rule must still hold.
    g = torch.Generator().manual_seed(11)
    scores = torch.rand(40, 16, 16, generator=g).bfloat16()
    durations = torch.full((40,), 30.0)
    gt = torch.tensor([[3.0, 12.5]]).expand(40, 2)
    mask = proposal_mask(16, [15])
    assert evaluate(scores, mask, durations, gt) == ref.reference_evaluate(scores.float(), mask, durations, gt)


def _random_json(rng, q=40, max_cands=12):
    pred, gt = {}, {}
    for k in range(q):
        d = rng.choice([10.0, rng.uniform(5, 60)])
        s = rng.uniform(-0.4, d - 1)   # some starts before 0: clamped
        e = rng.uniform(s + 0.5, d + 2)          # some ends beyond the video: clamped
        gt[f"v{k}"] = {"moment": [s, e], "duration": d}
        cands = []
        for _ in range(rng.randint(0, max_cands)):
            a = min(rng.choice([rng.uniform(0, d), float(rng.randint(0, 10))]), d)
            b = min(a + rng.choice([rng.uniform(0, d / 2), float(rng.randint(0, 4))]), d)  # inside the video
            cands.append([a, b, rng.choice([0.5, 0.25, rng.random()])])   # ties
        pred[f"v{k}"] = cands
    return pred, gt


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_score_equals_reference_loop_on_random_json(seed):
    pred, gt = _random_json(random.Random(seed))
    for nms_t in (0.5, 0.3, None):
        assert score(pred, gt, nms_t) == ref.reference_score(pred, gt, nms_t)


def test_score_equals_evaluate_on_grid_predictions():
    # With D = 2N every cell time is a small dyadic number, so seconds-IoU (score) and clip-IoU
    # (evaluate) are the same doubles and the two entry points must agree exactly.
    g = torch.Generator().manual_seed(7)
    n, q = 16, 30
    mask = proposal_mask(n, [15])
    scores = torch.randint(0, 4, (q, n, n), generator=g).float()
    ci, cj = mask.nonzero(as_tuple=True)
    gt_t = torch.tensor([[2.0 * k % 20, 2.0 * k % 20 + 7.5] for k in range(q)])
    cells = list(zip(ci.tolist(), cj.tolist(), strict=True))
    pred = {str(k): [[2.0 * i, 2.0 * (j + 1), float(scores[k, i, j])] for i, j in cells] for k in range(q)}
    gt = {str(k): {"moment": gt_t[k].tolist(), "duration": 32.0} for k in range(q)}
    assert score(pred, gt) == evaluate(scores, mask, torch.full((q,), 32.0), gt_t)


# --- score: JSON-shaped input -----------------------------------------------------------------

def test_score_hand_computed_with_clamping(caplog):
    gt = {"a": {"moment": [0, 4], "duration": 10}, "b": {"moment": [8, 12], "duration": 10}}
    pred = {"a": [[0, 4, 0.7], [0, 2, 0.9]],        # ranked [0,2] (tIoU .5) then [0,4] (1.0)
            "b": [[8, 10, 0.3]]}                   # gt clamped to [8, 10]: tIoU 1 (0.5 unclamped)
    with caplog.at_level(logging.WARNING, logger="vdi_core.metrics"):
        out = score(pred, gt)
    assert "1 of 2 ground-truth moments clamped" in caplog.text
    assert out == {"R@1,IoU=0.3": 100.0, "R@1,IoU=0.5": 100.0, "R@1,IoU=0.7": 50.0,
                   "R@5,IoU=0.3": 100.0, "R@5,IoU=0.5": 100.0, "R@5,IoU=0.7": 100.0, "mIoU": 75.0}


def test_score_empty_candidate_list_is_a_miss():
    gt = {"a": {"moment": [0, 4], "duration": 10}, "b": {"moment": [0, 4], "duration": 10}}
    out = score({"a": [[0, 4, 1.0]], "b": []}, gt, ks=(1,), ious=(0.5,))
    assert out == {"R@1,IoU=0.5": 50.0, "mIoU": 50.0}


@pytest.mark.parametrize("pred,gt_entry,message", [
    ({}, None, r"no predictions for 1 of 1 queries of gt, first 'a'"),
    ({"a": [[0, 1, 1]], "zz": []}, None, r"1 query ids are not in gt, first 'zz'"),
    ({"a": [[0, 1, float("nan")]]}, None, r"pred\['a'\]\[0\].*finite.*NaN/inf"),
    ({"a": [[0, 1, 0.5], [3, 2, 0.4]]}, None, r"pred\['a'\]\[1\]: end 2.0 < start 3.0"),
    ({"a": [[0, 1]]}, None, r"pred\['a'\]\[0\]: expected three"),
    ({"a": "0 1 0.5"}, None, r"pred\['a'\]: expected a list"),
    ({"a": [[0, 10 ** 400, 0.5]]}, None, r"pred\['a'\]\[0\]: expected three"),
    ({"a": []}, {"moment": [4, 2], "duration": 10}, r"gt\['a'\]\['moment'\]: end 2.0 <= start 4.0"),
    ({"a": []}, {"moment": [11, 12], "duration": 10}, r"outside the video"),
    ({"a": []}, {"moment": [1, 2]}, r"gt\['a'\]: expected"),
    ({"a": []}, {"moment": [1, 2], "duration": -3}, r"gt\['a'\]\['duration'\]"),
    ({"a": [[0, 1, 0.5], [-0.5, 2, 0.4]]}, None, r"pred\['a'\]\[1\]: \[-0.5, 2.0\] is not inside the video"),
    ({"a": [[0, 10.5, 0.5]]}, None, r"pred\['a'\]\[0\]: \[0.0, 10.5\] is not inside the video \[0, 10\]"),
    ({"a": [[0, 1, True]]}, None, r"pred\['a'\]\[0\]: expected three"),
    ({"a": [[0, 1, "0.5"]]}, None, r"pred\['a'\]\[0\]: expected three"),
    ({"a": [[0, 1, None]]}, None, r"pred\['a'\]\[0\]: expected three"),
    ({"a": ["0 1"]}, None, r"pred\['a'\]\[0\]: expected three"),
    ({"a": ["123"]}, None, r"pred\['a'\]\[0\]: expected three"),
    ({"a": [[0, [1], 0.5]]}, None, r"pred\['a'\]\[0\]: expected three"),
    ({"a": [7]}, None, r"pred\['a'\]\[0\]: expected three"),
])
def test_score_rejects_bad_input_with_location(pred, gt_entry, message):
    gt = {"a": gt_entry or {"moment": [0, 4], "duration": 10}}
    with pytest.raises(VdiError, match=message):
        score(pred, gt)


def test_score_accepts_an_end_at_the_duration_up_to_float_rounding():
    gt = {"a": {"moment": [0, 4], "duration": 10}}
    out = score({"a": [[0, 10 * (1 + 1e-9), 1.0]]}, gt, ks=(1,), ious=(0.3,))
    assert out["R@1,IoU=0.3"] == 100.0 and out["mIoU"] == pytest.approx(40.0)
    with pytest.raises(VdiError, match="not inside the video"):
        score({"a": [[0, 10 * (1 + 1e-5), 1.0]]}, gt)


def test_score_breaks_exact_ties_by_start_then_end():
    # Three candidates tie at 0.9; the earliest start wins, then the earliest end, whatever the list order.
    gt = {"a": {"moment": [2, 4], "duration": 10}}
    cands = [[2, 4, 0.9], [0, 4, 0.9], [0, 2, 0.9], [6, 8, 0.1]]   # rank: [0, 2], [0, 4], [2, 4] ...
    for perm in ([0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2]):
        out = score({"a": [cands[i] for i in perm]}, gt, nms=None, ks=(1, 2, 3), ious=(0.5,))
        # top-1 [0, 2] (tIoU 0), top-2 [0, 4] (0.5), top-3 [2, 4] (1.0)
        assert out == {"R@1,IoU=0.5": 0.0, "R@2,IoU=0.5": 100.0, "R@3,IoU=0.5": 100.0, "mIoU": 0.0}
    assert nms([[2, 4], [0, 4], [0, 2]], [0.9, 0.9, 0.9], None).tolist() == [2, 1, 0]


def test_score_is_a_function_of_the_set_of_candidates_on_a_tie_heavy_case():
    # Scores from 4 levels on a coarse grid: most candidates tie. Shuffling a query's candidates
    # moved R@1 IoU=0.3 from 54 to 56 when ties kept list order (issue 10, item 9).
    rng = random.Random(11)
    pred, gt = {}, {}
    for k in range(60):
        d = 20.0
        gt[f"q{k}"] = {"moment": sorted(rng.sample(range(21), 2)), "duration": d}
        pred[f"q{k}"] = [[float(i), float(j), rng.choice([0.25, 0.5, 0.75, 1.0])]
                         for i in range(0, 20, 2) for j in range(i + 2, 21, 2)]
    base = score(pred, gt)
    assert base == ref.reference_score(pred, gt)
    for seed in range(5):
        r = random.Random(seed)
        shuffled = {q: r.sample(c, len(c)) for q, c in pred.items()}
        assert score(shuffled, gt) == base
        assert score(shuffled, gt, nms=None) == score(pred, gt, nms=None)


def test_score_rejects_empty_gt_and_bad_options():
    with pytest.raises(VdiError, match="non-empty"):
        score({}, {})
    with pytest.raises(VdiError, match="ks"):
        score({"a": []}, {"a": {"moment": [0, 1], "duration": 2}}, ks=(0,))
    with pytest.raises(VdiError, match="IoU thresholds"):
        score({"a": []}, {"a": {"moment": [0, 1], "duration": 2}}, ious=(1.5,))


# --- the CLI ----------------------------------------------------------------------------------

def _write(path, obj):
    path.write_text(json.dumps(obj))
    return str(path)


def test_cli_score_prints_metrics(tmp_path, capsys):
    pred, gt = _random_json(random.Random(3))
    p, g = _write(tmp_path / "pred.json", pred), _write(tmp_path / "gt.json", gt)
    assert cli.main(["score", "--pred", p, "--gt", g]) == 0
    assert json.loads(capsys.readouterr().out) == score(pred, gt)
    assert cli.main(["score", "--pred", p, "--gt", g, "--nms", "none"]) == 0
    assert json.loads(capsys.readouterr().out) == score(pred, gt, nms=None)


def test_cli_score_errors_are_one_line(tmp_path, capsys):
    g = _write(tmp_path / "gt.json", {"q1": {"moment": [0, 1], "duration": 5}})
    p = _write(tmp_path / "pred.json", {"q2": [[0, 1, 1.0]]})
    assert cli.main(["score", "--pred", p, "--gt", g]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{p}: no predictions for 1 of 1 queries of {g}, first 'q1'" in err
    (tmp_path / "broken.json").write_text('{"q1": [[0, 1, 1.0]],\n oops}')
    assert cli.main(["score", "--pred", str(tmp_path / "broken.json"), "--gt", g]) == 2
    assert "not valid JSON at line 2" in capsys.readouterr().err
    assert cli.main(["score", "--pred", str(tmp_path / "missing.json"), "--gt", g]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_score_refuses_duplicate_query_ids_and_deep_nesting(tmp_path, capsys):
    g = _write(tmp_path / "gt.json", {"q1": {"moment": [0, 1], "duration": 5}, "q2": {"moment": [1, 2], "duration": 5}})
    p = tmp_path / "pred.json"
    # The last "q1" would score R@1 = 100 with exit 0; the first scores 50.
    p.write_text('{"q1": [[3, 4, 1.0]], "q2": [[1, 2, 1.0]], "q1": [[0, 1, 1.0]]}')
    assert cli.main(["score", "--pred", str(p), "--gt", g]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "key 'q1' appears more than once" in err
    dup_gt = tmp_path / "dup_gt.json"
    dup_gt.write_text('{"q1": {"moment": [0, 1], "duration": 5}, "q1": {"moment": [1, 2], "duration": 5}}')
    assert cli.main(["score", "--pred", _write(tmp_path / "ok.json", {"q1": []}), "--gt", str(dup_gt)]) == 2
    assert "key 'q1' appears more than once" in capsys.readouterr().err
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert cli.main(["score", "--pred", str(deep), "--gt", g]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nested too deeply" in err


# --- real annotations -------------------------------------------------------------------------

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.shared_data
def test_score_on_charades_cg_novel_word(caplog):
    path = SHARED_DATA / "charades_cg" / "novel_word.json"
    if not path.is_file():
        pytest.skip(f"real annotations not found at {path} (../shared/data beside the repo)")
    videos = json.loads(path.read_text())
    gt = {f"{vid}#{k}": {"moment": list(m), "duration": v["duration"]}
          for vid, v in videos.items() for k, m in enumerate(v["timestamps"])}
    assert len(gt) == 695
    # The clamped ground truth itself scores 100 everywhere; 109 ends lie beyond the video (README).
    exact = {q: [[e["moment"][0], min(e["moment"][1], e["duration"]), 1.0]] for q, e in gt.items()}
    with caplog.at_level(logging.WARNING, logger="vdi_core.metrics"):
        out = score(exact, gt)
    assert "109 of 695 ground-truth moments clamped" in caplog.text
    assert all(v == pytest.approx(100.0) for v in out.values())
    # Fixed-proposal baselines: halves and the whole video, and thirds, ranked by a fixed prior.
    def fixed(d):
        return [[0, d, 0.2], [0, d / 2, 0.5], [d / 2, d, 0.5], [0, d / 3, 0.3], [d / 3, 2 * d / 3, 0.3]]
    prior = {q: fixed(e["duration"]) for q, e in gt.items()}
    assert score(prior, gt) == ref.reference_score(prior, gt)
