"""Static query Q^s and dynamic query Q^d of a sentence (A3), their token alignment (A4), and the
random-half query Q^h of Table 5 (A10).

A3: spaCy POS. Q^d = VERB words, plus ADV words and particles (dependency `prt`) whose head is a
verb; Q^s = NOUN, PROPN, ADJ words. Other words belong to neither. Words are character spans in
the sentence, so any text tower that reports per-token character spans can be aligned to them:
a token belongs to a word when their spans overlap (BPE pieces of one word all do).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..pos_tagger import load_spacy

Span = tuple[int, int]
STATIC_POS = ("NOUN", "PROPN", "ADJ")
@dataclass(frozen=True)
class QueryWords:
    """Character spans of a sentence's words by role."""

    static: tuple[Span, ...]
    dynamic: tuple[Span, ...]
    words: tuple[Span, ...]  # every non-punctuation word (Q^h draws from these)


def _roles(doc) -> QueryWords:
    static, dynamic, words = [], [], []
    for tok in doc:
        if tok.is_punct or tok.is_space:
            continue
        span = (tok.idx, tok.idx + len(tok.text))
        words.append(span)
        if tok.pos_ in STATIC_POS:
            static.append(span)
        elif tok.pos_ == "VERB" or ((tok.pos_ == "ADV" or tok.dep_ == "prt") and tok.head.pos_ == "VERB"):
            dynamic.append(span)
    return QueryWords(tuple(static), tuple(dynamic), tuple(words))


class QueryParser:
    """Parses sentences once (spaCy is the slow part) and remembers the result per sentence."""

    def __init__(self, model: str = "en_core_web_sm"):
        self.model = model
        self._cache: dict[str, QueryWords] = {}

    def __call__(self, sentences: list[str]) -> list[QueryWords]:
        todo = sorted({s for s in sentences if s not in self._cache})
        if todo:
            nlp = load_spacy(self.model)
            for s, doc in zip(todo, nlp.pipe(todo, batch_size=256)):
                self._cache[s] = _roles(doc)
        return [self._cache[s] for s in sentences]


def random_half(words: QueryWords, sentence: str, seed: int) -> QueryWords:
    """Q^h (A10): a seeded random half of the words guides the context (returned as `static`);
    the other half is injected (returned as `dynamic`). Same seed and sentence -> same halves."""
    rng = random.Random(f"{seed}|{sentence}")
    order = list(words.words)
    rng.shuffle(order)
    k = len(order) // 2
    return QueryWords(tuple(sorted(order[:k])), tuple(sorted(order[k:])), words.words)


def token_selection(word_spans: list[tuple[Span, ...]], token_spans: list[list[Span]], length: int) -> torch.Tensor:
    """BoolTensor [B, L]: token t of sentence b lies in one of b's words (A4). Tokens without
    characters (start/end/padding, span (-1, -1) or empty) never do."""
    sel = torch.zeros(len(word_spans), length, dtype=torch.bool)
    for b, (words, toks) in enumerate(zip(word_spans, token_spans)):
        for t, (ts, te) in enumerate(toks[:length]):
            if ts < 0 or te <= ts:
                continue
            if any(ts < we and te > ws for ws, we in words):
                sel[b, t] = True
    return sel


def pooled_query(tokens: torch.Tensor, selection: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the selected token states per sentence (A4): ([B, D], valid [B]); a sentence with
    no selected token is not valid and gets a zero vector."""
    sel = selection.to(tokens.device, tokens.dtype)
    count = sel.sum(1, keepdim=True)
    pooled = (tokens * sel[..., None]).sum(1) / count.clamp(min=1)
    return pooled, count[:, 0] > 0
