"""The micro-CLIPs' compact vocabulary (A18): the world's BPE pieces get ids 1..K, and nothing a
sentence's pieces, spans or words depend on changes (Figure 1 word grouping, A15; POS alignment,
A3/A4). Pinned here on the world's own sentences: every query of every split, pre-training
captions and the Table 1 sentences."""

import json

import numpy as np
import pytest
import torch
from open_clip.tokenizer import SimpleTokenizer

from vdi_core.datatypes import ModelSpec
from vdi_core.errors import VdiError
from vdi_core.mini import frames as F
from vdi_core.mini import micro_models, pretrain
from vdi_core.mini import world as W
from vdi_core.towers.bpe import compact_tokenizer, tokenize_with_spans, words_from_tokens
from vdi_core.towers.clip import ClipTextTower, load_clip, vocab_path

CONTEXT = micro_models.TEXT_CFG["context_length"]


def world_sentences(world) -> list[str]:
    seed = world["seed"]
    out = [q for split in W.SPLITS for s in W.generate_split(world, split, seed) for _, q in s.queries]
    rng = np.random.default_rng([seed, 12])  # captions need no rendering
    for _ in range(3000):
        scene = F.sample_scene(rng, world, int(rng.integers(1, 3)), 0.5)
        out.append(F.scene_caption(rng, world, scene))
    out += [r[0] for r in F.triplets(world, seed, 30)]
    return sorted(set(out))


@pytest.fixture(scope="module")
def world():
    return W.load_world()


def test_hand_computed_ids():
    tok = compact_tokenizer(["red</w>", "circle</w>"], 8)
    # 0 padding/unknown, 1 red, 2 circle, 3 SOT, 4 EOT (the largest id: CLIP pools at argmax)
    assert tok("red circle").tolist() == [[3, 1, 2, 4, 0, 0, 0, 0]]
    assert tok("blue circle").tolist() == [[3, 0, 2, 4, 0, 0, 0, 0]]  # an unknown piece -> 0
    assert tok.vocab_size == 5 and (tok.sot_token_id, tok.eot_token_id) == (3, 4)
    with pytest.raises(VdiError, match="not CLIP BPE pieces"):
        compact_tokenizer(["red</w>", "notapiece###"], 8)
    with pytest.raises(VdiError, match="each BPE piece once"):
        compact_tokenizer(["red</w>", "red</w>"], 8)


def test_world_vocabulary_is_small_and_complete(world):
    pieces = pretrain.world_pieces(world)
    assert 60 <= len(pieces) <= 90, len(pieces)  # ~150 words share pieces; 73 on the shipped world
    assert pretrain.world_pieces(world) == pieces  # a fixed order: ids are reproducible
    full = SimpleTokenizer(context_length=CONTEXT)
    tok = compact_tokenizer(pieces, CONTEXT)
    ids = tok(world_sentences(world))
    eot = ids.argmax(-1)
    assert (ids[torch.arange(len(ids)), eot] == tok.eot_token_id).all()
    inside = torch.arange(ids.shape[1])[None, :] < eot[:, None]
    assert (ids[inside] > 0).all(), "a world sentence has a piece outside the compact vocabulary"
    assert full.vocab_size == 49408 and tok.vocab_size == len(pieces) + 3


def test_spans_and_words_unchanged_vs_full_vocabulary(world):
    sentences = world_sentences(world)
    assert len(sentences) > 3000
    full = SimpleTokenizer(context_length=CONTEXT)
    pieces = pretrain.world_pieces(world)
    tok = compact_tokenizer(pieces, CONTEXT)
    a, b = tokenize_with_spans(full, sentences), tokenize_with_spans(tok, sentences)
    assert a.texts == b.texts and a.pieces == b.pieces and a.spans == b.spans and a.truncated == b.truncated
    # the ids are the full ids mapped piece by piece; padding stays 0
    remap = {full.encoder[p]: i + 1 for i, p in enumerate(pieces)}
    remap |= {full.sot_token_id: tok.sot_token_id, full.eot_token_id: tok.eot_token_id, 0: 0}
    mapped = a.ids.clone().apply_(lambda i: remap[i])
    assert torch.equal(mapped, b.ids)
    assert torch.equal(b.ids, tok(sentences))  # spans path == the tokenizer's own call


def test_text_tower_with_compact_model(tmp_path, world):
    """A saved compact micro-CLIP loads with its vocabulary; the tower's EOT feature equals
    encode_text, and its words are the full-vocabulary words."""
    pieces = pretrain.world_pieces(world)
    model = pretrain.new_model("vit-joint", 0, pieces)
    spec = pretrain._save(model, "vit-joint", pieces, tmp_path, {})
    loaded, _, tok = load_clip(spec)
    assert loaded.token_embedding.num_embeddings == len(pieces) + 3
    tower = ClipTextTower(loaded, tok).eval()
    sentences = ["the red circle moves left near the green box", "a purple ring vanishes"]
    with torch.no_grad():
        enc = tower(sentences)
        ref = loaded.encode_text(tok(sentences))
    torch.testing.assert_close(enc.sentence, ref)
    full = tokenize_with_spans(SimpleTokenizer(context_length=CONTEXT), sentences)
    assert [[w.text for w in ws] for ws in enc.words] == [
        [w.text for w in words_from_tokens(p, s, t)] for p, s, t in zip(full.pieces, full.spans, full.texts)]
    assert [w.text for w in enc.words[0]] == ["the", "red", "circle", "moves", "left", "near", "the", "green", "box"]


def test_vocabulary_that_does_not_fit_the_weights_is_refused(tmp_path, world):
    pieces = pretrain.world_pieces(world)
    spec = pretrain._save(pretrain.new_model("vit-joint", 0, pieces), "vit-joint", pieces, tmp_path, {})
    vocab_path(spec.config_path).write_text(json.dumps(pieces[:-1]))
    with pytest.raises(VdiError, match="different builds"):
        load_clip(ModelSpec("open_clip", "vit-joint", spec.config_path, spec.weights, fingerprint="other"))
    vocab_path(spec.config_path).write_text("{not json")
    with pytest.raises(VdiError, match="not a readable JSON list"):
        load_clip(ModelSpec("open_clip", "vit-joint", spec.config_path, spec.weights, fingerprint="other2"))
