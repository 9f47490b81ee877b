"""Per-query predictions of grounding runs: kept for the selected epoch, reproducing the run's
metrics exactly, readable by `vdi score --pred predictions.npz`, and checked when loaded."""

import dataclasses
import json

import numpy as np
import pytest
from grounding_support import Killed, kill_after, make_ctx, make_splits, tiny_config, use_splits

from vdi_core import claims, predictions
from vdi_core.cli import main
from vdi_core.errors import VdiError
from vdi_core.tasks import grounding as grounding_task


def _run(cfg, tmp, seed=0, **kw):
    return grounding_task.run(cfg, make_ctx(tmp, seed=seed, artifact_dir=tmp / "artifacts", **kw))


def _record(result):
    return {"metrics": result.metrics, "extra": result.extra}


def test_selected_epochs_predictions_reproduce_the_metrics(splits, tmp_path):
    r = _run(tiny_config(train={"epochs": 3}), tmp_path / "a")
    entry = r.extra["predictions"]
    path = tmp_path / "a" / "artifacts" / entry["file"]
    assert entry["file"] == "predictions.npz" and entry["queries"] == 8
    assert entry["sha256"] == predictions.sha256(path)
    pred = predictions.load_predictions(path)
    assert pred.starts.shape == (8, 5) and pred.scores.dtype == np.float32 and pred.nms == 0.5
    assert sorted(pred.qids.tolist()) == sorted(q.qid for v in splits.eval for q in v.queries)
    assert predictions.metrics_of(pred) == r.metrics  # exactly, not approximately
    assert r.metrics == r.extra["last_metrics"] or r.extra["best_epoch"] != r.extra["last_epoch"]
    ev = predictions.run_evidence(_record(r), path.parent)
    for key, value in r.metrics.items():
        assert ev.outcomes[key].shape == (8,)
        assert 100 * ev.outcomes[key].mean() == pytest.approx(value, abs=1e-9)
    # rank order after NMS: scores never increase along the kept moments
    assert (np.diff(np.where(pred.exists, pred.scores, -np.inf), axis=1) <= 0).all()


def test_vdi_score_reads_the_artifact_and_reproduces_the_stored_metrics(splits, tmp_path, capsys):
    r = _run(tiny_config(), tmp_path / "a")
    path = tmp_path / "a" / "artifacts" / "predictions.npz"
    _, gt = predictions.as_score_inputs(predictions.load_predictions(path))
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    capsys.readouterr()
    assert main(["score", "--pred", str(path), "--gt", str(tmp_path / "gt.json")]) == 0
    assert json.loads(capsys.readouterr().out) == r.metrics
    # another NMS threshold than the run's cannot be honoured from the top 5: refused, one line
    assert main(["score", "--pred", str(path), "--gt", str(tmp_path / "gt.json"), "--nms", "0.3"]) == 2
    assert "after the run's NMS (0.5)" in capsys.readouterr().err


def test_a_broken_artifact_is_one_line(tmp_path, capsys):
    bad = tmp_path / "p.npz"
    bad.write_bytes(b"not a zip")
    (tmp_path / "gt.json").write_text("{}")
    assert main(["score", "--pred", str(bad), "--gt", str(tmp_path / "gt.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable .npz" in err


def test_fixed_prior_keeps_its_proposals(splits, tmp_path):
    r = _run(tiny_config(model={"method": "fixed_prior"}), tmp_path / "p")
    pred = predictions.load_predictions(tmp_path / "p" / "artifacts" / "predictions.npz")
    assert predictions.metrics_of(pred) == r.metrics
    # the same ranked proposals for every query, in seconds of each query's own video
    rel = pred.starts / pred.durations[:, None]
    assert np.allclose(rel, rel[0]) and r.extra["fixed_prior"]["cell"][0] == pytest.approx(rel[0, 0])


def test_resumed_run_keeps_the_same_predictions_and_same_seed_same_bytes(splits, tmp_path):
    cfg = tiny_config(train={"epochs": 3})
    full = _run(cfg, tmp_path / "full")
    with pytest.raises(Killed):
        _run(cfg, tmp_path / "resumed", progress=kill_after(2))
    resumed = _run(cfg, tmp_path / "resumed")
    assert resumed.extra["resumed_from_epoch"] == 3
    assert resumed.extra["predictions"] == full.extra["predictions"]  # same sha256: byte-identical


def test_evidence_refuses_changed_or_missing_artifacts(splits, tmp_path):
    r = _run(tiny_config(), tmp_path / "a")
    art = tmp_path / "a" / "artifacts"
    assert predictions.run_evidence({"metrics": r.metrics, "extra": {}}, art) == "no per-query artifact"
    wrong = dict(r.metrics, **{"mIoU": r.metrics["mIoU"] + 1})
    assert "disagrees" in predictions.run_evidence({"metrics": wrong, "extra": r.extra}, art)
    pred = predictions.load_predictions(art / "predictions.npz")
    predictions.save_predictions(art / "predictions.npz", predictions.Predictions(
        pred.qids, pred.starts, pred.ends, pred.scores, pred.exists, pred.gt, pred.durations * 2, pred.nms))
    assert "changed since the run" in predictions.run_evidence(_record(r), art)
    (art / "predictions.npz").unlink()
    assert "missing" in predictions.run_evidence(_record(r), art)


def _tag_pairs(s):
    """Tag each eval video's three queries as the mini world does: actor a0 does grow and shrink,
    a1 does grow (verb pairs q0/q1, noun pairs q0/q2 where their moments overlap <= 0.3)."""
    for v in s.eval:
        v.queries = [dataclasses.replace(q, actor=a, verb=b)
                     for q, a, b in zip(v.queries, ("a0", "a0", "a1"), ("grow", "shrink", "grow"))]


def test_pair_outcomes_are_kept_and_give_the_pair_metrics_an_interval(tmp_path):
    s = make_splits(tmp_path, n_eval=12, queries=3)
    _tag_pairs(s)
    use_splits(s)
    runs = [_run(tiny_config(train={"epochs": 2}), tmp_path / f"s{seed}", seed=seed) for seed in (0, 1)]
    counts = runs[0].extra["counts"]
    assert counts["verb_pairs_count"] > 2 and counts["noun_pairs_count"] > 2
    evidence = {}
    for seed, r in zip((0, 1), runs):
        art = tmp_path / f"s{seed}" / "artifacts"
        pred = predictions.load_predictions(art / "predictions.npz")
        assert sorted(pred.pairs) == ["noun_pairs", "verb_pairs"]
        ev = predictions.run_evidence(_record(r), art)
        for name in ("verb_pairs", "noun_pairs"):
            out = ev.outcomes[name]
            assert out.shape == (counts[f"{name}_count"],) and set(out.tolist()) <= {0.0, 0.5, 1.0}
            assert ev.scale_of(name) == 1.0 and out.mean() == r.metrics[name]  # the metric is their mean
        assert ev.scale_of("R@1,IoU=0.5") == 100.0
        evidence[seed] = ev
    # a threshold claim on verb pairs now gets an interval over pairs and seeds
    row = claims.RowEvidence(evidence[0].ids, evidence, "")
    mean, lo, hi = claims.row_interval({"r": row}, "r", "verb_pairs", n_boot=500)
    assert lo <= mean <= hi and mean == pytest.approx(np.mean([r.metrics["verb_pairs"] for r in runs]))
    # a changed pair outcome no longer matches the stored metric: the evidence is refused
    art = tmp_path / "s0" / "artifacts"
    pred = predictions.load_predictions(art / "predictions.npz")
    worse = np.zeros_like if pred.pairs["verb_pairs"].mean() > 0 else np.ones_like
    flipped = dict(pred.pairs, verb_pairs=worse(pred.pairs["verb_pairs"]))
    record = _record(runs[0])
    digest = predictions.save_predictions(art / "predictions.npz", dataclasses.replace(pred, pairs=flipped))
    record["extra"] = dict(record["extra"], predictions=dict(record["extra"]["predictions"], sha256=digest))
    assert "disagrees with the stored verb_pairs" in predictions.run_evidence(record, art)


def test_a_malformed_pair_array_is_one_line(splits, tmp_path):
    r = _run(tiny_config(), tmp_path / "a")
    path = tmp_path / "a" / "artifacts" / "predictions.npz"
    pred = predictions.load_predictions(path)
    assert pred.pairs == {}  # a source with no actor / verb tags keeps none
    predictions.save_predictions(path, dataclasses.replace(pred, pairs={"verb_pairs": np.array([0.0, 0.3])}))
    with pytest.raises(VdiError, match="'pairs:verb_pairs' must be a non-empty list of pair outcomes 0, 0.5 or 1"):
        predictions.load_predictions(path)
    assert r.metrics
