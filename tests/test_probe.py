"""Table 1 probe: normalisation, summaries, the pipeline on a tiny random CLIP, SVO-Probes files."""

from __future__ import annotations

import csv
import http.server
import math
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from _tiny_clip import tiny_spec

from vdi_core.backbones import BACKBONES
from vdi_core.data.svo_probes import fetch_svo_images, load_svo_triplets, parse_triplet, read_svo_csv
from vdi_core.datatypes import ProbeData, Triplet
from vdi_core.errors import MissingData, VdiError
from vdi_core.sources import get_source, register_source
from vdi_core.tasks import RunContext, get_task, probe
from vdi_core.towers.clip import load_clip

SVO_HEADER = ["sentence", "pos_triplet", "neg_triplet", "subj_neg", "verb_neg", "obj_neg",
              "pos_url", "neg_url", "pos_image_id", "neg_image_id"]


def _ctx(tmp_path, profile="probe-test"):
    logs = []
    return RunContext(profile=profile, seed=0, device="cpu", work_dir=tmp_path / "work",
                      cache_dir=tmp_path / "cache", log=logs.append), logs


def _images(n, size=40, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8) for _ in range(n)]


# --- normalisation and summaries on hand-made numbers ---------------------------------------------


def test_softmax_normalisation_on_hand_made_similarities():
    pos, neg = probe.normalise("softmax", torch.tensor([0.30, 0.25]), torch.tensor([0.20, 0.25]), 10.0)
    assert pos[0].item() == pytest.approx(1 / (1 + math.exp(-1.0)), abs=1e-6)  # logits 3.0 vs 2.0
    assert neg[0].item() == pytest.approx(1 / (1 + math.exp(1.0)), abs=1e-6)
    assert pos[1].item() == pytest.approx(0.5) and neg[1].item() == pytest.approx(0.5)
    pos, neg = probe.normalise("softmax", torch.tensor([0.31]), torch.tensor([0.28]), 100.0)
    assert pos.item() == pytest.approx(1 / (1 + math.exp(-3.0)), abs=1e-6)
    pos, neg = probe.normalise("sum", torch.tensor([0.3]), torch.tensor([0.2]), 100.0)
    assert (pos.item(), neg.item()) == (pytest.approx(0.6), pytest.approx(0.4))
    with pytest.raises(VdiError, match="did you mean 'softmax'"):
        probe.normalise("softmx", torch.tensor([0.3]), torch.tensor([0.2]), 1.0)


def test_summarise_means_per_type_and_overall():
    pos = np.array([0.9, 0.6, 0.8, 0.7, 0.55])
    types = ["subject", "verb", "verb", "object", "verb"]
    metrics, extra = probe.summarise(pos, 1 - pos, types)
    assert metrics["subject.pos"] == pytest.approx(0.9) and metrics["subject.dif"] == pytest.approx(0.8)
    assert metrics["verb.pos"] == pytest.approx((0.6 + 0.8 + 0.55) / 3)
    assert metrics["verb.neg"] == pytest.approx((0.4 + 0.2 + 0.45) / 3)
    assert metrics["verb.dif"] == pytest.approx((0.2 + 0.6 + 0.1) / 3)
    assert metrics["overall.dif"] == pytest.approx((0.8 + 0.2 + 0.6 + 0.4 + 0.1) / 5)
    assert extra["counts"] == {"overall": 5, "subject": 1, "verb": 3, "object": 1}
    assert extra["accuracy"]["verb"] == pytest.approx(1.0)
    metrics, extra = probe.summarise(pos[:1], 1 - pos[:1], ["subject"])
    assert "verb.pos" not in metrics and extra["counts"]["verb"] == 0  # no triplets, no number


# --- the pipeline on a tiny random model ----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_spec(tmp_path_factory.mktemp("tiny"))


def test_encode_images_caches_identical_images(tiny):
    model, preprocess, _ = load_clip(tiny)
    a, b = _images(2)
    feats, rows = probe.encode_images(model, preprocess, [a, b, a, a.copy(), b], 2, "cpu")
    assert feats.shape == (2, 32) and rows == [0, 1, 0, 0, 1]
    assert torch.allclose(feats.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_probe_task_matches_a_manual_computation(tmp_path, tiny):
    from PIL import Image

    imgs = _images(4, seed=1)
    triplets = [
        Triplet("a red circle moves left", imgs[0], imgs[1], "verb"),
        Triplet("a blue square grows", imgs[2], imgs[3], "subject"),
        Triplet("a red circle moves left", imgs[0], imgs[2], "object"),
        Triplet("a blue square grows", imgs[2], imgs[1], "verb"),
    ]
    register_source("probe-test", "svo_triplets")(
        lambda data_cfg, ctx: ProbeData(triplets, tiny, "fp-test", {"images_missing": 2})
    )
    ctx, logs = _ctx(tmp_path)
    cfg = probe.ProbeConfig(batch_size=3)
    assert get_task("probe") is probe.TASK
    result = probe.run(cfg, ctx)

    model, preprocess, tokenizer = load_clip(tiny)
    with torch.no_grad():
        scale = model.logit_scale.exp().item()
        expected = []
        for t in triplets:
            im = model.encode_image(torch.stack([preprocess(Image.fromarray(x)) for x in (t.positive, t.negative)]),
                                    normalize=True)
            tx = model.encode_text(tokenizer([t.sentence]), normalize=True)
            logits = scale * (im @ tx.T).squeeze(1)
            expected.append(torch.softmax(logits, 0)[0].item())
    expected = np.array(expected)
    assert result.metrics["verb.pos"] == pytest.approx((expected[0] + expected[3]) / 2, abs=1e-5)
    assert result.metrics["verb.neg"] == pytest.approx(1 - (expected[0] + expected[3]) / 2, abs=1e-5)
    assert result.metrics["object.dif"] == pytest.approx(2 * expected[2] - 1, abs=1e-5)
    assert result.metrics["overall.pos"] == pytest.approx(expected.mean(), abs=1e-5)
    assert set(result.metrics) == {f"{k}.{s}" for k in ("overall", "subject", "verb", "object")
                                   for s in ("pos", "neg", "dif")}
    assert result.extra["counts"] == {"overall": 4, "subject": 1, "verb": 2, "object": 1}
    assert result.extra["unavailable"] == {"images_missing": 2} and any("images_missing" in m for m in logs)
    assert probe.fingerprint(cfg, ctx) == {"source": "probe-test:svo_triplets", "backbone": "vit-joint"}
    again = probe.run(cfg, ctx)  # deterministic
    assert again.metrics == result.metrics


def test_probe_rejects_unknown_negative_type(tmp_path, tiny):
    img = _images(1)[0]
    register_source("probe-test", "bad_types")(
        lambda data_cfg, ctx: ProbeData([Triplet("x", img, img, "adjective")], tiny, "fp")
    )
    cfg = probe.ProbeConfig(data=probe.ProbeDataConfig(source="bad_types"))
    with pytest.raises(VdiError, match="negative types \\['adjective'\\]"):
        probe.run(cfg, _ctx(tmp_path)[0])


# --- SVO-Probes files (paper profile) -------------------------------------------------------------


def _write_svo(root: Path, rows, header=SVO_HEADER):
    path = root / "svo_probes" / "svo_probes.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


SVO_ROWS = [
    # sentence, pos_triplet, neg_triplet, subj, verb, obj, pos_url, neg_url, pos_id, neg_id
    ["A man sits on the grass.", "man,sit,grass", "['man,stand,grass']", "False", "True", "False",
     "http://h/1.jpg", "http://h/2.jpg", "1", "2"],
    ["A dog runs on the beach.", "['dog,run,beach', 'dog,run,sand']", "cat,run,beach", "True", "False", "False",
     "http://h/3.jpg", "http://h/4.jpg", "3", "4"],
    ["A girl reads a book.", "girl,read,book", "girl,read,magazine", "False", "False", "True",
     "http://h/5.jpg", "http://h/6.jpg", "5", "6"],
    ["A man rides a horse.", "man,ride,horse", "man,feed,horse", "0", "1", "0",
     "http://h/7.jpg", "http://h/9.jpg", "7", "9"],  # image 9 never downloaded
    ["A woman cuts a cake.", "woman,cut,cake", "man,eat,cake", "True", "True", "False",
     "http://h/1.jpg", "http://h/3.jpg", "1", "3"],  # two slots changed
]


def _save_images(folder: Path, ids, size=(60, 40)):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in ids:
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{i}.jpg")


def test_read_svo_csv_is_liberal_about_formats(tmp_path):
    rows = read_svo_csv(_write_svo(tmp_path, SVO_ROWS))
    assert [r.neg_types for r in rows] == [("verb",), ("subject",), ("object",), ("verb",), ("subject", "verb")]
    assert rows[0].pos_image == "1" and rows[0].line == 2
    assert parse_triplet("['man,sit,grass', 'man,sit,lawn']") == ("man", "sit", "grass")
    assert parse_triplet("('Man', 'sit', 'grass')") == ("man", "sit", "grass")
    # without flag columns the type comes from the differing slot; without ids from the URL
    header = ["sentence", "pos_triplet", "neg_triplet", "pos_url", "neg_url"]
    path = _write_svo(tmp_path / "b", [[r[0], r[1], r[2], r[6], r[7]] for r in SVO_ROWS], header)
    rows = read_svo_csv(path)
    assert [r.neg_types for r in rows][:4] == [("verb",), ("subject",), ("object",), ("verb",)]
    assert rows[0].pos_image.startswith("url-") and rows[0].pos_image == rows[4].pos_image
    bad = [list(SVO_ROWS[0])]
    bad[0][4] = "maybe"
    with pytest.raises(VdiError, match=r"svo_probes.csv:2 \(verb_neg\): expected True/False"):
        read_svo_csv(_write_svo(tmp_path / "c", bad))


def test_load_svo_triplets_counts_what_it_cannot_score(tmp_path):
    csv_path = _write_svo(tmp_path, SVO_ROWS)
    images = tmp_path / "svo_probes" / "images"
    _save_images(images, [1, 2, 3, 4, 5, 7], size=(300, 250))
    (images / "6.jpg").write_bytes(b"not a jpeg")
    logs = []
    triplets, unavailable = load_svo_triplets(csv_path, images, short_side=100, log=logs.append)
    assert [t.neg_type for t in triplets] == ["verb", "subject"]
    assert triplets[0].positive.shape == (100, 120, 3)  # shorter side 250 -> 100, 300 -> 120
    assert unavailable == {"rows_missing_image.subject": 0, "rows_missing_image.verb": 1,
                           "rows_missing_image.object": 1, "rows_multi_type": 1, "rows_no_type": 0,
                           "images_missing": 1, "images_unreadable": 1}
    assert any("2 of 5 rows scored" in m for m in logs)


@pytest.fixture
def paper_root(tmp_path, monkeypatch, tiny):
    """A data root in the real layout with the tiny model standing in for CLIP ViT-B/32."""
    import open_clip

    open_clip.add_model_config(tiny.config_path)
    vit = BACKBONES["vit-joint"]  # the paper's ViT-B/32 record, its open_clip model swapped for the tiny one
    monkeypatch.setitem(BACKBONES._entries, "vit-joint", replace(vit, paper=replace(vit.paper, image_model=tiny.model)))
    weights = tmp_path / "weights" / "clip" / "ViT-B-32.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(Path(tiny.weights).read_bytes())
    return tmp_path


def test_paper_svo_source_and_probe_task(paper_root):
    _write_svo(paper_root, SVO_ROWS)
    _save_images(paper_root / "svo_probes" / "images", [1, 2, 3, 4, 5, 6, 7])
    ctx, logs = _ctx(paper_root, profile="paper")
    cfg = probe.ProbeConfig(data=probe.ProbeDataConfig(root=str(paper_root)))
    data = get_source("paper", "svo_triplets")(cfg.data, ctx)
    assert len(data.triplets) == 3 and data.unavailable["rows_missing_image.verb"] == 1
    assert data.clip.weights == str(paper_root / "weights" / "clip" / "ViT-B-32.pt")
    result = probe.run(cfg, ctx)
    assert result.extra["counts"] == {"overall": 3, "subject": 1, "verb": 1, "object": 1}
    assert result.extra["unavailable"]["rows_multi_type"] == 1
    assert 0 < result.metrics["overall.pos"] < 1
    assert result.metrics["overall.pos"] + result.metrics["overall.neg"] == pytest.approx(1.0)
    fp = probe.fingerprint(cfg, ctx)
    assert fp["svo_probes_csv"] != "missing" and fp["clip_vit_b32_openai"] != "missing"


def test_paper_svo_source_lists_missing_data(tmp_path):
    cfg = probe.ProbeDataConfig(root=str(tmp_path))
    with pytest.raises(MissingData) as err:
        get_source("paper", "svo_triplets")(cfg, _ctx(tmp_path, "paper")[0])
    msg = str(err.value)
    assert "svo_probes/svo_probes.csv" in msg and "vdi data fetch svo_probes_csv" in msg
    assert "svo_probes/images" in msg and "weights/clip/ViT-B-32.pt" in msg
    assert "vdi data fetch clip_vit_b32_openai" in msg
    assert len(err.value.missing) == 3


# --- fetching images, against a local fake host ---------------------------------------------------


def test_fetch_svo_images_from_a_local_server(tmp_path):
    from PIL import Image

    served = tmp_path / "served"
    _save_images(served, [1, 2, 3], size=(20, 10))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(served), **k)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        rows = [["s1", "a,b,c", "a,x,c", "False", "True", "False", f"{base}/1.jpg", f"{base}/2.jpg", "1", "2"],
                ["s2", "a,b,c", "a,b,y", "False", "False", "True", f"{base}/3.jpg", f"{base}/404.jpg", "3", "4"],
                ["s3", "a,b,c", "z,b,c", "True", "False", "False", f"{base}/1.jpg", f"{base}/3.jpg", "1", "5"]]
        csv_path = _write_svo(tmp_path, rows)
        out = tmp_path / "images"
        out.mkdir()
        (out / "5.jpg").write_bytes((served / "3.jpg").read_bytes())  # already present: not fetched
        logs = []
        counts = fetch_svo_images(csv_path, out, timeout=5, workers=2, log=logs.append)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert counts == {"images": 5, "present": 1, "downloaded": 3, "failed": 1}
    with Image.open(out / "2.jpg") as im:
        assert im.size == (20, 10) and im.format == "JPEG"
    failed = (out / "failed.tsv").read_text().splitlines()
    assert len(failed) == 1 and failed[0].startswith("4\t") and "404" in failed[0]
    assert not list(out.glob("*.tmp*"))
