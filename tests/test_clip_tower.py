"""CLIP loading from local files, BPE spans and words, and the text tower's outputs."""

from __future__ import annotations

import math

import pytest
import torch
from _tiny_clip import tiny_spec, write_tiny_config

from vdi_core.datatypes import ModelSpec
from vdi_core.errors import VdiError
from vdi_core.towers.clip import ClipTextTower, load_clip, tokenize_with_spans, words_from_tokens

SENTENCES = [
    "A person opens the door.",
    "someone's vacuuming the hairdryer, t-shirt... quickly",
    "café naïve 10 cats",
    "a very long sentence with many many words that will surely be truncated at sixteen tokens",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    spec = tiny_spec(tmp_path_factory.mktemp("tiny"))
    model, preprocess, tokenizer = load_clip(spec)
    return spec, model, preprocess, tokenizer


def _words(tokenizer, sentence):
    tok = tokenize_with_spans(tokenizer, [sentence], context_length=77)
    return [(w.text, len(w.positions)) for w in words_from_tokens(tok.pieces[0], tok.spans[0], tok.texts[0])]


def test_ids_match_open_clip_tokenizer_including_truncation(tiny):
    _, _, _, tokenizer = tiny
    tok = tokenize_with_spans(tokenizer, SENTENCES)
    assert torch.equal(tok.ids, tokenizer(SENTENCES))
    assert tok.ids.shape == (4, 16)
    assert tok.ids[3, -1].item() == tokenizer.encoder["<end_of_text>"]  # truncated, EOT kept last


def test_spans_point_at_the_piece_characters(tiny):
    _, _, _, tokenizer = tiny
    tok = tokenize_with_spans(tokenizer, ["Vacuuming café"], context_length=77)
    text, spans = tok.texts[0], tok.spans[0]
    assert text == "vacuuming café"  # cleaned and lower-cased
    pieces = [p for p in tok.pieces[0] if p]
    assert pieces[:4] == ["<start_of_text>", "vacu", "um", "ing</w>"]
    assert [text[s:e] for s, e in spans[1:4]] == ["vacu", "um", "ing"]
    assert spans[0] == (-1, -1) and spans[len(pieces) - 1] == (-1, -1) and spans[-1] == (-1, -1)
    # a multi-byte character: every span still covers whole characters of the cleaned text
    cafe = [text[s:e] for s, e in spans[4 : len(pieces) - 1]]
    assert "".join(cafe) == "café"


def test_words_group_multi_piece_words_and_split_punctuation(tiny):
    _, _, _, tokenizer = tiny
    assert _words(tokenizer, "Someone is vacuuming the hairdryer, t-shirt... quickly!") == [
        ("someone", 1), ("is", 1), ("vacuuming", 3), ("the", 1), ("hairdryer", 2), (",", 1),
        ("t", 1), ("-", 1), ("shirt", 1), ("...", 1), ("quickly", 1), ("!", 1),
    ]
    assert _words(tokenizer, "he don't unpacks")[1:] == [("don", 1), ("'t", 1), ("unpacks", 2)]


def test_words_from_hand_made_pieces():
    pieces = ["<start_of_text>", "ti", "dies</w>", ".", ".</w>", "up", "<end_of_text>", ""]
    spans = [(-1, -1), (0, 2), (2, 6), (6, 7), (7, 8), (9, 11), (-1, -1), (-1, -1)]
    words = words_from_tokens(pieces, spans, "tidies.. up")
    # punctuation never joins the letters before it; an unclosed word is closed by EOT
    assert [(w.text, w.positions, w.span) for w in words] == [
        ("tidies", (1, 2), (0, 6)), ("..", (3, 4), (6, 8)), ("up", (5,), (9, 11)),
    ]


def test_sentence_feature_equals_encode_text_and_mask(tiny):
    _, model, _, tokenizer = tiny
    tower = ClipTextTower(model, tokenizer)
    with torch.no_grad():
        enc = tower(SENTENCES)
        ref = model.encode_text(tokenizer(SENTENCES))
    assert torch.equal(enc.sentence, ref)
    assert enc.tokens.shape == (4, 16, 32) and enc.attention is None
    eot = enc.ids.argmax(-1)
    assert torch.equal(enc.tokens[torch.arange(4), eot], enc.sentence)
    assert enc.mask.sum(-1).tolist() == (eot + 1).tolist()
    assert enc.mask[0].tolist()[:8] == [True] * 8 and not enc.mask[0, 8]  # 6 pieces + SOT + EOT


def test_attention_equals_manual_recomputation(tiny):
    _, model, _, tokenizer = tiny
    tower = ClipTextTower(model, tokenizer)
    block = model.transformer.resblocks[-1]
    seen = {}
    h = block.register_forward_pre_hook(lambda m, args: seen.__setitem__("x", args[0]))
    with torch.no_grad():
        enc = tower(SENTENCES, need_attention=True)
    h.remove()
    mha = block.attn
    assert not mha._forward_hooks and not mha._forward_pre_hooks  # hooks are removed again
    x = block.ln_1(seen["x"])
    q, k, _ = torch.nn.functional.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
    b, n, d = q.shape
    heads = mha.num_heads
    q = q.view(b, n, heads, d // heads).transpose(1, 2)
    k = k.view(b, n, heads, d // heads).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(d // heads) + model.attn_mask
    weights = scores.softmax(-1).mean(1)  # [B, L, L], mean over heads
    eot = enc.ids.argmax(-1)
    manual = weights[torch.arange(b), eot]
    assert torch.allclose(enc.attention, manual, atol=1e-5)
    assert torch.allclose(enc.attention.sum(-1), torch.ones(b), atol=1e-5)
    # the causal mask: nothing after EOT receives attention
    assert float((enc.attention * (~enc.mask)).abs().max()) == 0.0
    with torch.no_grad():
        plain = tower(SENTENCES)
    assert torch.allclose(plain.sentence, enc.sentence, atol=1e-5)


def test_gradients_flow_through_tokens_and_attention(tiny):
    _, model, _, tokenizer = tiny
    tower = ClipTextTower(model, tokenizer)
    enc = tower(SENTENCES[:2], need_attention=True)
    (enc.tokens.sum() + enc.sentence.sum() + enc.attention[:, 1].sum()).backward()
    assert model.token_embedding.weight.grad is not None
    last = model.transformer.resblocks[-1].attn.in_proj_weight.grad
    assert last is not None and last.abs().sum() > 0


def test_load_clip_reads_local_weights_and_copies(tmp_path, tiny):
    spec, model, _, _ = tiny
    again, _, _ = load_clip(spec)
    assert again is not model
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():  # a caller changing its copy does not change the cached model
        again.token_embedding.weight.zero_()
    third, _, _ = load_clip(spec)
    assert torch.equal(third.token_embedding.weight, model.token_embedding.weight)


def test_load_clip_errors(tmp_path):
    cfg = write_tiny_config(tmp_path, "vdi-test-err")
    missing = str(tmp_path / "nope.pt")
    spec = ModelSpec("open_clip", "vdi-test-err", config_path=str(cfg), weights=missing)
    with pytest.raises(VdiError, match=r"weights file .*nope\.pt not found; .*pass a path"):
        load_clip(spec)
    with pytest.raises(VdiError, match=r"vdi data fetch clip_vit_b32_openai"):
        load_clip(ModelSpec("open_clip", "ViT-B-32-quickgelu", weights=missing))
    with pytest.raises(VdiError, match="did you mean 'ViT-B-32'"):
        load_clip(ModelSpec("open_clip", "ViT-B-23"))
    with pytest.raises(VdiError, match="kind 'open_clip'"):
        load_clip(ModelSpec("hf", "distilbert"))
    with pytest.raises(VdiError, match="model config .* not found"):
        load_clip(ModelSpec("open_clip", "x", config_path=str(tmp_path / "x.json")))
    # a checkpoint of another architecture is refused (strict loading)
    bad = tmp_path / "bad.pt"
    torch.save({"token_embedding.weight": torch.zeros(3, 3)}, bad)
    with pytest.raises(VdiError, match="does not fit model vdi-test-err"):
        load_clip(ModelSpec("open_clip", "vdi-test-err", config_path=str(cfg), weights=str(bad)))


def test_pretrained_tag_not_cached_fails_without_download(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cache/clip
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    with pytest.raises(VdiError, match="tag 'openai' of RN50 is not in the local cache.*clip_rn50_openai"):
        load_clip(ModelSpec("open_clip", "RN50", weights="openai"))


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::FutureWarning")
def test_torchscript_archive_weights_load(tmp_path, tiny):
    """OpenAI's ViT-B-32.pt / RN50.pt are TorchScript archives; a traced tiny model stands in."""
    spec, model, _, _ = tiny
    traced = torch.jit.trace(
        model, (torch.zeros(1, 3, 32, 32), torch.zeros(1, 16, dtype=torch.long)), check_trace=False, strict=False
    )
    path = tmp_path / "jit.pt"
    torch.jit.save(traced, str(path))
    loaded, _, _ = load_clip(ModelSpec("open_clip", spec.model, config_path=spec.config_path, weights=str(path)))
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
