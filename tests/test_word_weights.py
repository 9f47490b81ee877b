"""Figure 1: POS grouping on real sentences, word weights from attention, summaries, outputs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from _tiny_clip import tiny_spec

from vdi_core.backbones import BACKBONES
from vdi_core.datatypes import SentenceSets
from vdi_core.errors import MissingData
from vdi_core.sources import get_source, register_source
from vdi_core.tasks import RunContext, get_task
from vdi_core.tasks import word_weights as ww
from vdi_core.towers.clip import ClipTextTower, load_clip, tokenize_with_spans, words_from_tokens

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _ctx(tmp_path, profile="ww-test", artifact_dir=None):
    return RunContext(profile=profile, seed=0, device="cpu", work_dir=tmp_path / "work" / "run1",
                      cache_dir=tmp_path / "cache", log=lambda m: None, artifact_dir=artifact_dir)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_spec(tmp_path_factory.mktemp("tiny"))


# --- POS groups on real Charades-STA sentences ---------------------------------------------------


@pytest.mark.shared_data
def test_pos_groups_on_real_charades_sentences():
    path = SHARED_DATA / "charades_sta" / "charades_sta_test.txt"
    if not path.is_file():
        pytest.skip(f"needs the real annotation files in {SHARED_DATA} (../shared/data beside the repo)")
    import open_clip

    lines = path.read_text().splitlines()
    wanted = {
        "a person is putting a picture onto the wall.": "o n o v o n o o n o",
        "person sitting on top of bed closes laptop.": "n v o n o n v n o",
        "person they put the camera on the baby's jumper.": "n o v o n o o n o n o",
        "the person closes a box that's been searched through.": "o n v o n o o o v o o",
    }
    sentences = [line.split("##", 1)[1] for line in lines if line.split("##", 1)[1] in wanted]
    assert set(sentences) == set(wanted)  # the file really holds them
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    tok = tokenize_with_spans(tokenizer, sentences)
    nlp = ww.load_spacy()
    for i, sentence in enumerate(sentences):
        words = words_from_tokens(tok.pieces[i], tok.spans[i], tok.texts[i])
        groups = [ww.group_of(p)[0] for p in ww.align_pos(words, nlp(ww.spacy_text(sentence, tok.texts[i])))]
        assert " ".join(groups) == wanted[sentence], (sentence, [w.text for w in words])


def test_align_pos_uses_character_overlap():
    nlp = ww.load_spacy()
    import open_clip

    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    sentence = "Someone is vacuuming the hairdryer."  # multi-piece words map to one spaCy token
    tok = tokenize_with_spans(tokenizer, [sentence])
    words = words_from_tokens(tok.pieces[0], tok.spans[0], tok.texts[0])
    text = ww.spacy_text(sentence, tok.texts[0])
    assert text == "Someone is vacuuming the hairdryer."  # original case, same offsets
    tags = ww.align_pos(words, nlp(text))
    assert [w.text for w in words] == ["someone", "is", "vacuuming", "the", "hairdryer", "."]
    assert tags[2] == "VERB" and tags[4] == "NOUN" and tags[5] == "PUNCT"


# --- weights from attention, and their summary -----------------------------------------------------


def test_word_weight_is_the_sum_of_its_pieces_attention(tiny):
    model, _, tokenizer = load_clip(tiny)
    tower = ClipTextTower(model, tokenizer)
    sentences = ["Someone is vacuuming the hairdryer.", "a man reads"]
    with torch.no_grad():
        enc = tower(sentences, need_attention=True)
    records, truncated = ww.word_records(tower, ww.load_spacy(), sentences, ww.WordWeightsConfig(batch_size=1))
    assert truncated == 0
    first = [r for r in records if r.sentence == 0]
    att = enc.attention[0]
    # vacuuming = vacu + um + ing (positions 3, 4, 5); hairdryer = hair + dryer (7, 8); SOT at 0
    assert [r.word for r in first] == ["someone", "is", "vacuuming", "the", "hairdryer", "."]
    assert first[2].weight == pytest.approx(float(att[3] + att[4] + att[5]), abs=1e-6)
    assert first[4].weight == pytest.approx(float(att[7] + att[8]), abs=1e-6)
    assert (first[2].group, first[4].group, first[5].group) == ("verb", "noun", "other")
    eot = int(enc.ids[0].argmax())
    # words + SOT + EOT hold all the attention: nothing is lost, SOT/EOT are not words
    assert sum(r.weight for r in first) + float(att[0] + att[eot]) == pytest.approx(1.0, abs=1e-5)
    no_punct = ww.word_records(tower, ww.load_spacy(), sentences[:1],
                               ww.WordWeightsConfig(exclude_punctuation=True))[0]
    assert [r.word for r in no_punct] == ["someone", "is", "vacuuming", "the", "hairdryer"]


def test_summarise_on_hand_made_records():
    R = ww.WordRecord
    records = [R(0, "man", "NOUN", "noun", 0.4), R(0, "runs", "VERB", "verb", 0.1), R(0, "a", "DET", "other", 0.1),
               R(1, "dog", "NOUN", "noun", 0.2), R(1, "sits", "VERB", "verb", 0.2),
               R(1, "Rex", "PROPN", "noun", 0.6)]
    metrics, info = ww.summarise(records)
    assert metrics["noun_mean"] == pytest.approx(0.4) and metrics["noun_median"] == pytest.approx(0.4)
    assert metrics["verb_mean"] == pytest.approx(0.15) and metrics["other_median"] == pytest.approx(0.1)
    # sentence 0: nouns 0.4/0.6, verbs 0.1/0.6; sentence 1: nouns 0.8/1.0, verbs 0.2/1.0
    assert metrics["noun_share"] == pytest.approx((0.4 / 0.6 + 0.8) / 2)
    assert metrics["verb_share"] == pytest.approx((0.1 / 0.6 + 0.2) / 2)
    assert info == {"words": {"noun": 3, "verb": 2, "other": 1}, "sentences": 2}


def test_word_weights_task_writes_png_and_summary(tmp_path, tiny):
    from PIL import Image

    sets = {"charades_sta": ["person opens the door.", "a person is putting a picture onto the wall.",
                             "person eating a sandwich."],
            "toy": ["a red circle moves left", "the blue square grows near the box"]}
    register_source("ww-test", "sentences")(lambda data_cfg, ctx: SentenceSets(sets, tiny, "fp-sent"))
    out_png = tmp_path / "artifacts" / "fig1.png"
    cfg = ww.WordWeightsConfig(bins=10)
    assert get_task("word_weights") is ww.TASK
    result = ww.run(cfg, _ctx(tmp_path, artifact_dir=tmp_path / "artifacts"))
    for name in sets:
        for key in ("noun_mean", "noun_median", "verb_mean", "verb_median", "other_mean", "other_median",
                    "noun_share", "verb_share"):
            assert f"{name}.{key}" in result.metrics
    assert result.extra["words"]["charades_sta"] == {"noun": 7, "verb": 3, "other": 10}
    with Image.open(out_png) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]  # two panels side by side
    md = Path(result.extra["summary_md"]).read_text()
    assert "![word weight histograms](fig1.png)" in md and "| Charades-STA | Nouns | 7 |" in md
    assert result.extra["png"] == str(out_png)
    assert result.extra["summary_md"] == str(tmp_path / "artifacts" / "fig1_summary.md")
    again = ww.run(cfg, _ctx(tmp_path, artifact_dir=tmp_path / "artifacts"))
    assert again.metrics == result.metrics
    default = ww.run(ww.WordWeightsConfig(max_sentences=1), _ctx(tmp_path))
    assert Path(default.extra["png"]) == tmp_path / "work" / "run1" / "artifacts" / "fig1.png"
    assert default.extra["sentences"] == {"charades_sta": 1, "toy": 1}


# --- paper profile: sentences from the real formats ------------------------------------------------


def test_paper_sentences_source(tmp_path, monkeypatch, tiny):
    import open_clip

    open_clip.add_model_config(tiny.config_path)
    vit = BACKBONES["vit-joint"]  # the paper's ViT-B/32 record, its open_clip model swapped for the tiny one
    monkeypatch.setitem(BACKBONES._entries, "vit-joint", replace(vit, paper=replace(vit.paper, image_model=tiny.model)))
    cfg = ww.WordWeightsDataConfig(root=str(tmp_path))
    with pytest.raises(MissingData) as err:
        get_source("paper", "sentences")(cfg, _ctx(tmp_path, "paper"))
    msg = str(err.value)
    assert "charades_sta/charades_sta_test.txt" in msg and "vdi data fetch charades_sta_test" in msg
    assert "activitynet_captions/val_2.json" in msg and "weights/clip/ViT-B-32.pt" in msg
    sta = tmp_path / "charades_sta" / "charades_sta_test.txt"
    sta.parent.mkdir()
    sta.write_text("3MSZA 24.3 30.4##person turn a light on.\n"
                   "AMT7R 4.3 12.5##a person is putting a picture onto the wall.\n")
    anet = tmp_path / "activitynet_captions" / "val_2.json"
    anet.parent.mkdir()
    anet.write_text(json.dumps({"v_abc": {"duration": 10.0, "timestamps": [[0, 2], [2, 5]],
                                          "sentences": ["  A man is seen speaking.", " He plays the violin."]}}))
    weights = tmp_path / "weights" / "clip" / "ViT-B-32.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(Path(tiny.weights).read_bytes())
    data = get_source("paper", "sentences")(cfg, _ctx(tmp_path, "paper"))
    assert data.sets == {"charades_sta": ["person turn a light on.", "a person is putting a picture onto the wall."],
                         "activitynet": ["A man is seen speaking.", "He plays the violin."]}
    assert data.clip.model == tiny.model and data.clip.fingerprint.startswith(tiny.model)
    result = ww.run(ww.WordWeightsConfig(data=cfg), _ctx(tmp_path, "paper", artifact_dir=tmp_path))
    assert result.extra["words"]["activitynet"]["verb"] == 3  # seen, speaking, plays
    fp = ww.fingerprint(ww.WordWeightsConfig(data=cfg), _ctx(tmp_path, "paper"))
    assert fp["charades_sta_test"] != "missing" and fp["activitynet_captions_val_2"] != "missing"
