"""A bag-of-words text tower (kind "bag-of-words"): the premise ladder's text side that is *given*
the verbs (rungs P2a / P2, docs/PREMISE.md).

Every word of a closed vocabulary has its own trainable embedding, so a verb's meaning is learnt
from the grounding loss alone at the full learning rate, with nothing pre-trained in the way. A
word's state is a small MLP of its embedding plus a learnt position embedding (so "the red circle
... near the green box" keeps which colour is the actor's); the sentence feature is the mean of
the word states. The table is named `lexicon` so `train.freeze_token_embedding` (meant for CLIP's
49,408 random rows) never freezes it. A word outside the vocabulary maps to one shared "<unk>" row, which training
never sees unless train queries hold unknown words.

The vocabulary lives in a JSON file (`ModelSpec.config_path`: {"words": [...], "dim": D,
"max_words": L}); `ModelSpec.fingerprint` must hash it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch import nn

from ..datatypes import ModelSpec
from ..errors import VdiError
from ..io import atomic_write_text
from .bpe import NO_SPAN, Word
from .clip import TextEncoding

UNK = "<unk>"
_WORD = re.compile(r"\S+")


class BagOfWordsTower(nn.Module):
    def __init__(self, words: list[str], dim: int, max_words: int):
        super().__init__()
        self.vocab = {w: i + 1 for i, w in enumerate(words)}  # 0 is <unk>
        self.dim, self.max_words = dim, max_words
        self.lexicon = nn.Embedding(len(words) + 1, dim)
        self.position = nn.Embedding(max_words, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        nn.init.normal_(self.lexicon.weight, std=0.5)
        nn.init.normal_(self.position.weight, std=0.1)

    def tokenize(self, sentence: str) -> tuple[str, list[tuple[int, int]], list[int]]:
        """(lower-cased text, char span per word, vocabulary id per word); the tail past max_words is cut."""
        text = sentence.lower().strip()
        found = list(_WORD.finditer(text))[: self.max_words]
        return text, [(m.start(), m.end()) for m in found], [self.vocab.get(m.group(), 0) for m in found]

    def forward(self, sentences: list[str]) -> TextEncoding:
        device = self.lexicon.weight.device
        parsed = [self.tokenize(s) for s in sentences]
        if any(not ids for _, _, ids in parsed):
            raise VdiError("bag-of-words text tower: an empty sentence reached the tower")
        L = max(len(ids) for _, _, ids in parsed)
        ids = torch.zeros(len(parsed), L, dtype=torch.long, device=device)
        mask = torch.zeros(len(parsed), L, dtype=torch.bool, device=device)
        for b, (_, _, row) in enumerate(parsed):
            ids[b, :len(row)] = torch.tensor(row, dtype=torch.long)
            mask[b, :len(row)] = True
        pos = torch.arange(L, device=device)
        tokens = self.mlp(self.lexicon(ids) + self.position(pos)[None])
        w = mask.to(tokens.dtype)[..., None]
        sentence = (tokens * w).sum(1) / w.sum(1)
        texts = [t for t, _, _ in parsed]
        spans = [s + [NO_SPAN] * (L - len(s)) for _, s, _ in parsed]
        words = [[Word(t[a:e], (k,), (a, e)) for k, (a, e) in enumerate(s)] for t, s, _ in parsed]
        pieces = [[t[a:e] for a, e in s] + [""] * (L - len(s)) for t, s, _ in parsed]
        return TextEncoding(tokens=tokens, mask=mask, sentence=sentence, spans=spans, attention=None, texts=texts,
                            words=words, ids=ids, pieces=pieces, truncated=[False] * len(parsed))


def write_vocabulary(path: Path, words: list[str], dim: int, max_words: int) -> None:
    atomic_write_text(path, json.dumps({"words": sorted(set(words)), "dim": dim, "max_words": max_words},
                                       sort_keys=True))


def load_bow_text(spec: ModelSpec, device: str = "cpu") -> BagOfWordsTower:
    path = Path(spec.config_path or "")
    try:
        cfg = json.loads(path.read_text())
        words, dim, max_words = list(cfg["words"]), int(cfg["dim"]), int(cfg["max_words"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise VdiError(f"bag-of-words vocabulary {path} is unreadable ({type(e).__name__}: {e}); it needs "
                       '{"words": [...], "dim": D, "max_words": L}; delete it to have it rewritten') from None
    if UNK in words:
        raise VdiError(f"bag-of-words vocabulary {path} lists the reserved word {UNK!r}; remove it")
    return BagOfWordsTower(words, dim, max_words).to(device).train()
