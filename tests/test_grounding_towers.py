"""Text towers behind `build_text_tower`: a tiny random DistilBERT saved to a local directory
("Separated", MMN's mean pooling) and the tiny open_clip model ("Joint")."""

import pytest
import torch
from _tiny_clip import tiny_spec

from vdi_core.datatypes import ModelSpec
from vdi_core.errors import VdiError
from vdi_core.towers.factory import build_text_tower
from vdi_core.vdi.queries import QueryParser, token_selection

WORDS = ["a", "person", "opens", "the", "door", "turns", "off", "light", "un", "##screws", "jar", "."]


@pytest.fixture(scope="module")
def distilbert_dir(tmp_path_factory):
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizerFast

    folder = tmp_path_factory.mktemp("distilbert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    DistilBertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(folder)
    torch.manual_seed(0)
    cfg = DistilBertConfig(vocab_size=len(WORDS) + 5, dim=16, hidden_dim=32, n_layers=1, n_heads=2,
                           max_position_embeddings=32)
    DistilBertModel(cfg).save_pretrained(folder)
    return folder


def test_distilbert_mean_pooling_and_spans(distilbert_dir):
    tower = build_text_tower(ModelSpec(kind="hf", model=str(distilbert_dir))).eval()
    assert tower.dim == 16
    sentences = ["a person unscrews the jar.", "a person opens the door."]
    enc = tower(sentences)
    n = int(enc.mask[0].sum())  # [CLS] a person un ##screws the jar . [SEP]
    assert n == 9
    assert torch.allclose(enc.sentence[0], enc.tokens[0, :n].mean(0), atol=1e-6)  # MMN: [CLS]/[SEP] included
    assert enc.spans[0][0] == (-1, -1) and enc.spans[0][n - 1] == (-1, -1)
    (w,) = QueryParser()([sentences[0]])
    sel = token_selection([w.dynamic], enc.spans, enc.tokens.shape[1])[0]
    assert [sentences[0][s:e] for (s, e), on in zip(enc.spans[0], sel.tolist()) if on] == ["un", "screws"]


def test_clip_tower_dim_and_no_image_tower(tmp_path):
    tower = build_text_tower(tiny_spec(tmp_path))
    assert tower.dim == 32 and tower.model.visual is None
    enc = tower(["a person opens the door."])
    assert enc.tokens.shape[-1] == enc.sentence.shape[-1] == 32


def test_unknown_or_missing_towers_are_clear_errors(tmp_path):
    with pytest.raises(VdiError, match="did you mean 'hf'"):
        build_text_tower(ModelSpec(kind="hff", model="x"))
    with pytest.raises(VdiError, match="not found"):
        build_text_tower(ModelSpec(kind="hf", model=str(tmp_path / "nothing")))
