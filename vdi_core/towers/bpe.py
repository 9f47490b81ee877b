"""CLIP BPE tokenisation that keeps track of where each token came from.

open_clip's `SimpleTokenizer` returns token ids only. Figure 1 (A15) and the static/dynamic
query split (A3/A4) need to know which word each BPE piece belongs to, so this module re-runs the
same steps (clean -> regex pre-tokens -> byte encoding -> BPE) and records the character span of
every piece in the cleaned sentence. The ids are identical to `tokenizer(texts)` (tested).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import regex as re
import torch

from ..errors import VdiError

NO_SPAN = (-1, -1)  # SOT, EOT and padding have no characters
_PUNCT = set(string.punctuation)


@dataclass(frozen=True)
class Tokenised:
    ids: torch.Tensor  # [B, L] long, identical to tokenizer(texts)
    texts: list[str]  # the cleaned (lower-cased) sentences the spans refer to
    pieces: list[list[str]]  # BPE piece strings per position ("person</w>"; "" for padding)
    spans: list[list[tuple[int, int]]]  # char span per position in texts[b]; NO_SPAN if none
    truncated: list[bool]  # the sentence had more pieces than the context holds


@dataclass(frozen=True)
class Word:
    text: str
    positions: tuple[int, ...]  # token positions (in the [L] sequence, SOT at 0) of its pieces
    span: tuple[int, int]  # char span in the cleaned sentence


def _check_tokenizer(tokenizer) -> None:
    needed = ("clean_fn", "pat", "bpe", "byte_encoder", "encoder", "decoder", "context_length")
    missing = [a for a in needed if not hasattr(tokenizer, a)]
    if missing:
        raise VdiError(
            f"tokenizer {type(tokenizer).__name__} is not open_clip's SimpleTokenizer (lacks "
            f"{', '.join(missing)}); use an open_clip model with the CLIP BPE tokenizer"
        )


def _encode_one(tokenizer, text: str) -> tuple[str, list[int], list[str], list[tuple[int, int]]]:
    cleaned = tokenizer.clean_fn(text)
    ids, pieces, spans = [], [], []
    for m in re.finditer(tokenizer.pat, cleaned):
        token = m.group()
        # A piece covers whole bytes of the UTF-8 token; map byte offsets back to characters so
        # spans stay right for non-ASCII words (ActivityNet has a few).
        char_of_byte: list[int] = []
        for k, ch in enumerate(token):
            char_of_byte.extend([k] * len(ch.encode("utf-8")))
        encoded = "".join(tokenizer.byte_encoder[b] for b in token.encode("utf-8"))
        byte_pos = 0
        for piece in tokenizer.bpe(encoded).split(" "):
            n_bytes = len(piece) - (4 if piece.endswith("</w>") else 0)
            first = char_of_byte[byte_pos] if byte_pos < len(char_of_byte) else len(token)
            last = char_of_byte[byte_pos + n_bytes - 1] + 1 if n_bytes > 0 else first
            ids.append(tokenizer.encoder[piece])
            pieces.append(piece)
            spans.append((m.start() + first, m.start() + last))
            byte_pos += n_bytes
    return cleaned, ids, pieces, spans


def _encode_padded(tokenizer, text: str, length: int) -> tuple[list[int], list[str], list, str, bool]:
    """One sentence as SOT + pieces + EOT, truncated with EOT kept last, padded to `length`."""
    sot, eot = tokenizer.encoder["<start_of_text>"], tokenizer.encoder["<end_of_text>"]
    cleaned, t_ids, t_pieces, t_spans = _encode_one(tokenizer, text)
    seq = [sot] + t_ids + [eot]
    pcs = ["<start_of_text>"] + t_pieces + ["<end_of_text>"]
    sps = [NO_SPAN] + t_spans + [NO_SPAN]
    truncated = len(seq) > length
    if truncated:  # same truncation rule as SimpleTokenizer.__call__
        seq, pcs, sps = seq[:length], pcs[:length], sps[:length]
        seq[-1], pcs[-1], sps[-1] = eot, "<end_of_text>", NO_SPAN
    pad = length - len(seq)
    return seq + [0] * pad, pcs + [""] * pad, sps + [NO_SPAN] * pad, cleaned, truncated


def tokenize_with_spans(tokenizer, texts: list[str], context_length: int | None = None,
                        memo: dict | None = None) -> Tokenised:
    """Tokenise like `tokenizer(texts)` (SOT + pieces + EOT, truncated with EOT kept last, zero
    padding) and return the per-position piece strings and character spans as well.

    `memo` (a dict the caller keeps) remembers each sentence's result: training re-tokenises the
    same sentences every epoch, and this pure-Python BPE cost ~7 % of a mini run."""
    _check_tokenizer(tokenizer)
    length = context_length or tokenizer.context_length
    rows = []
    for text in texts:
        row = memo.get((text, length)) if memo is not None else None
        if row is None:
            row = _encode_padded(tokenizer, text, length)
            if memo is not None:
                memo[(text, length)] = row
        rows.append(row)
    ids = torch.tensor([r[0] for r in rows], dtype=torch.long).reshape(len(texts), length)
    return Tokenised(ids=ids, texts=[r[3] for r in rows], pieces=[list(r[1]) for r in rows],
                     spans=[list(r[2]) for r in rows], truncated=[r[4] for r in rows])


def is_punctuation(piece: str) -> bool:
    core = piece[:-4] if piece.endswith("</w>") else piece
    return bool(core) and all(c in _PUNCT for c in core)


def words_from_tokens(pieces: list[str], spans: list[tuple[int, int]], text: str) -> list[Word]:
    """Group BPE pieces into words: a piece ending in `</w>` closes a word, and punctuation
    pieces form words of their own (never joined to letters). Positions without a span (SOT,
    EOT, padding) are skipped, so the start/end tokens never belong to a word (A15)."""
    words: list[Word] = []
    current: list[int] = []

    def close():
        if current:
            start, end = spans[current[0]][0], spans[current[-1]][1]
            words.append(Word(text=text[start:end], positions=tuple(current), span=(start, end)))
            current.clear()

    for pos, (piece, span) in enumerate(zip(pieces, spans, strict=True)):
        if span == NO_SPAN:
            close()  # a truncated sentence can end mid-word; EOT still closes it
            continue
        if current and is_punctuation(pieces[current[-1]]) != is_punctuation(piece):
            close()  # punctuation never shares a word with letters or digits
        current.append(pos)
        if piece.endswith("</w>"):
            close()
    close()
    return words


UNK = "<unk>"  # compact id 0: padding, and any piece outside a compact vocabulary


class _CompactIds(dict):
    """piece -> compact id; a piece the vocabulary lacks maps to 0 (`UNK`), never raises."""

    def __missing__(self, piece: str) -> int:
        return 0


def compact_tokenizer(pieces: list[str], context_length: int):
    """open_clip's SimpleTokenizer with a compact vocabulary: the same cleaning, pre-tokens and BPE
    (so pieces, spans and word grouping are unchanged, A3/A4/A15), but only `pieces` get ids.

    Ids: 0 = padding / unknown piece, 1..K = `pieces` in the given order, K+1 = SOT, K+2 = EOT. EOT
    stays the largest id because CLIP's argmax text pooling finds the EOT as the row's largest id."""
    from open_clip.tokenizer import SimpleTokenizer

    if len(set(pieces)) != len(pieces) or UNK in pieces or "<start_of_text>" in pieces or "<end_of_text>" in pieces:
        raise VdiError("a compact vocabulary lists each BPE piece once and no special token; "
                       "rebuild the model's .vocab.json")
    tok = SimpleTokenizer(context_length=context_length)
    unknown = [p for p in pieces if p not in tok.encoder]
    if unknown:
        raise VdiError(f"compact vocabulary pieces {unknown[:5]} are not CLIP BPE pieces; rebuild the model's "
                       ".vocab.json")
    table = [UNK, *pieces, "<start_of_text>", "<end_of_text>"]
    tok.encoder = _CompactIds((p, i) for i, p in enumerate(table))
    tok.decoder = dict(enumerate(table))
    tok.vocab_size = len(table)
    tok.all_special_ids = [len(table) - 2, len(table) - 1]
    tok.sot_token_id, tok.eot_token_id = tok.all_special_ids
    return tok


def bpe_pieces(tokenizer, words: list[str]) -> list[str]:
    """The distinct BPE pieces of `words`, in first-seen order. CLIP's BPE runs per pre-token, so
    a word's pieces are the same alone as inside any sentence."""
    _check_tokenizer(tokenizer)
    seen: dict[str, None] = {}
    for w in words:
        for piece in _encode_one(tokenizer, w)[2]:
            seen.setdefault(piece, None)
    return list(seen)
