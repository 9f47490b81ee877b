"""open_clip models from local files, and a CLIP text tower that exposes per-token states.

`load_clip` never downloads: a custom JSON config is registered, the model is built with random
weights and the checkpoint is loaded from a local file (strict). A pretrained *tag* ("openai") is
accepted only when its file is already in the local cache.

`ClipTextTower` runs the same computation as `model.encode_text` but keeps every token's state
(for Q^s / Q^d, A4), the character span of every token (to map pieces to words and POS tags) and
optionally the last layer's attention from the EOT token (Figure 1, A15).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..datatypes import ModelSpec
from ..errors import VdiError, did_you_mean
from .bpe import NO_SPAN, Tokenised, Word, compact_tokenizer, tokenize_with_spans, words_from_tokens
from .stems import install_stem, read_stem, stem_path

__all__ = [
    "ClipTextTower", "TextEncoding", "Word", "load_clip", "tokenize_with_spans", "words_from_tokens",
    "NO_SPAN",
]

# `vdi data fetch` artefact per architecture family, for the "how to fix" part of errors.
_FETCH_NAMES = {"ViT-B-32": "clip_vit_b32_openai", "RN50": "clip_rn50_openai"}  # manifest names
_CACHE: dict[tuple[ModelSpec, str], tuple] = {}


def _fetch_hint(model_name: str) -> str:
    base = model_name.removesuffix("-quickgelu")
    return f"run `vdi data fetch {_FETCH_NAMES[base]}` or pass a path" if base in _FETCH_NAMES else "pass a path"


def _cached_tag_file(model_name: str, tag: str) -> tuple[str | None, bool]:
    """Local file of a pretrained tag if it is already cached (HF hub cache or ~/.cache/clip),
    plus whether the tag needs QuickGELU. Looks only at the disk: nothing is downloaded."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    quick_gelu = bool(cfg.get("quick_gelu", False))
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for name in names:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str) and os.path.isfile(found):
                return found, quick_gelu
    url = cfg.get("url", "")
    if url:
        path = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if path.is_file():
            return str(path), quick_gelu
    return None, quick_gelu


def _resolve_weights(spec: ModelSpec) -> tuple[str | None, bool]:
    """(local checkpoint path or None for random init, force QuickGELU)."""
    import open_clip

    if spec.weights is None or spec.weights == "":
        return None, False
    path = Path(spec.weights).expanduser()
    if path.is_file():
        return str(path), False
    looks_like_tag = os.sep not in spec.weights and not path.suffix
    if looks_like_tag and spec.weights in open_clip.list_pretrained_tags_by_model(spec.model):
        found, quick_gelu = _cached_tag_file(spec.model, spec.weights)
        if found is None:
            raise VdiError(
                f"pretrained tag '{spec.weights}' of {spec.model} is not in the local cache and nothing is "
                f"downloaded at run time; {_fetch_hint(spec.model)}"
            )
        # OpenAI weights were trained with QuickGELU; a plain config name would silently use GELU.
        return found, quick_gelu and not spec.model.endswith("-quickgelu")
    raise VdiError(f"weights file {spec.weights} not found; {_fetch_hint(spec.model)}")


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())


def _load_weights(model: nn.Module, path: str) -> None:
    """Strict load of a local checkpoint. OpenAI's own files (ViT-B-32.pt, RN50.pt) are
    TorchScript archives, which torch.load refuses with weights_only=True, so their state dict
    is read through torch.jit.load instead (no pickle of arbitrary objects either way)."""
    import open_clip

    if not _is_torchscript(path):
        open_clip.load_checkpoint(model, path, strict=True)
        return
    with warnings.catch_warnings():  # torch 2.14 marks jit.load deprecated; it is the only reader
        warnings.simplefilter("ignore", FutureWarning)
        state = torch.jit.load(path, map_location="cpu").state_dict()
    # metadata entries of OpenAI's archives, and buffers our model builds itself (causal mask)
    drop = {"input_resolution", "context_length", "vocab_size"}
    for prefix, module in model.named_modules():
        drop |= {f"{prefix}.{b}" if prefix else b for b in module._non_persistent_buffers_set}
    model.load_state_dict({k: v for k, v in state.items() if k not in drop}, strict=True)


def _build(spec: ModelSpec, device: str):
    import open_clip

    if spec.config_path:
        cfg = Path(spec.config_path)
        if not cfg.is_file():
            raise VdiError(f"model config {cfg} not found (ModelSpec.config_path); check the path")
        open_clip.add_model_config(cfg)
    if spec.model not in open_clip.list_models():
        raise VdiError(
            f"unknown open_clip model '{spec.model}'{did_you_mean(spec.model, open_clip.list_models())}; "
            "for a custom model set config_path to its JSON (the file stem is the model name)"
        )
    weights, quick_gelu = _resolve_weights(spec)
    # open_clip warns "initialized randomly" for pretrained=None; our weights load right below,
    # and a random model (weights=None) is what the spec asked for, so the warning only misleads.
    root = logging.getLogger()
    level, root.level = root.level, max(root.level, logging.ERROR)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            spec.model, pretrained=None, force_quick_gelu=quick_gelu
        )
    finally:
        root.setLevel(level)
    stem = read_stem(spec.config_path)  # a micro-ViT's convolutional trunk (A21), before its weights
    if stem is not None:
        install_stem(model, stem, str(stem_path(spec.config_path)))
    if weights is not None:
        try:
            _load_weights(model, weights)
        except (RuntimeError, KeyError) as e:
            # torch's first line is only "Error(s) in loading state_dict"; the next names the keys
            detail = " ".join(line.strip() for line in str(e).strip().splitlines()[:2]) or type(e).__name__
            raise VdiError(f"weights file {weights} does not fit model {spec.model}: {detail[:300]}; "
                           "check ModelSpec.model / config_path against the checkpoint") from e
    tokenizer = _compact_tokenizer(spec, model)
    if tokenizer is None:
        tokenizer = open_clip.get_tokenizer(spec.model)
    return model.to(device).eval(), preprocess, tokenizer


def vocab_path(config_path: str | Path) -> Path:
    """Where a custom model keeps its compact vocabulary: `<name>.vocab.json` beside `<name>.json`."""
    cfg = Path(config_path)
    return cfg.with_name(cfg.stem + ".vocab.json")


def _compact_tokenizer(spec: ModelSpec, model: nn.Module):
    """The compact-vocabulary tokenizer of a custom model that has a `.vocab.json` (a list of CLIP
    BPE pieces), else None. Its token embedding holds one row per compact id."""
    if not spec.config_path or not vocab_path(spec.config_path).is_file():
        return None
    path = vocab_path(spec.config_path)
    try:
        pieces = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise VdiError(f"{path}: not a readable JSON list of BPE pieces ({e}); rebuild the model") from e
    if not isinstance(pieces, list) or not all(isinstance(p, str) for p in pieces):
        raise VdiError(f"{path}: expected a JSON list of BPE piece strings; rebuild the model")
    tokenizer = compact_tokenizer(pieces, model.context_length)
    rows = model.token_embedding.num_embeddings
    if rows != tokenizer.vocab_size:
        raise VdiError(f"{path}: {tokenizer.vocab_size} compact ids but the model's token embedding has {rows} rows; "
                       "the vocabulary and the weights come from different builds, rebuild the model")
    return tokenizer


def load_clip(spec: ModelSpec, device: str = "cpu"):
    """(model, preprocess, tokenizer) for an open_clip ModelSpec, built from local files only.

    Loaded once per (spec, device) per process; each call returns its own deep copy of the
    model in eval mode, so a caller that fine-tunes it (grounding) cannot change what the next
    caller (probe, word weights) sees."""
    if spec.kind != "open_clip":
        raise VdiError(f"load_clip needs a ModelSpec of kind 'open_clip', got '{spec.kind}' for {spec.model}")
    key = (spec, str(device))
    if key not in _CACHE:
        _CACHE[key] = _build(spec, str(device))
    model, preprocess, tokenizer = _CACHE[key]
    return copy.deepcopy(model), preprocess, tokenizer


@dataclass
class TextEncoding:
    # L is the batch's longest sentence (up to its EOT), not the context length: see _trim
    tokens: torch.Tensor  # [B, L, D] last-layer token states after ln_final and text_projection
    mask: torch.Tensor  # [B, L] bool, True for SOT, the pieces and EOT
    sentence: torch.Tensor  # [B, D] EOT feature, equal to model.encode_text (unnormalised)
    spans: list[list[tuple[int, int]]]  # char span per position in texts[b]; (-1, -1) for SOT/EOT/pad
    attention: torch.Tensor | None  # [B, L] last-layer attention from EOT, mean over heads
    texts: list[str]  # cleaned, lower-cased sentences that the spans index
    words: list[list[Word]]  # BPE pieces grouped into words (SOT/EOT excluded)
    ids: torch.Tensor  # [B, L] token ids
    pieces: list[list[str]] = field(default_factory=list)  # BPE piece per position ("" for padding)
    truncated: list[bool] = field(default_factory=list)  # longer than the context: tail cut, EOT kept


class ClipTextTower(nn.Module):
    """The text half of an open_clip `CLIP`, returning every token. Differentiable end to end."""

    def __init__(self, model: nn.Module, tokenizer):
        super().__init__()
        for name in ("token_embedding", "positional_embedding", "transformer", "ln_final", "attn_mask"):
            if not hasattr(model, name):
                raise VdiError(
                    f"{type(model).__name__} has no '{name}': ClipTextTower supports open_clip CLIP models "
                    "with the built-in text transformer (not HF text towers)"
                )
        if getattr(model, "text_pool_type", "argmax") not in ("argmax", "eos"):
            raise VdiError(f"text pooling '{model.text_pool_type}' is not EOT pooling; use a CLIP-style model")
        self.model = model
        self.tokenizer = tokenizer
        # per-sentence tokenisation and word grouping, remembered: training sees each sentence
        # once per epoch, and both are pure Python
        self._memo: dict = {}
        self._words: dict[str, list[Word]] = {}

    def _words_of(self, sentence: str, pieces, spans, text) -> list[Word]:
        if sentence not in self._words:
            self._words[sentence] = words_from_tokens(pieces, spans, text)
        return self._words[sentence]

    def _run(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The body of open_clip's encode_text, stopping before pooling (ids already trimmed)."""
        m = self.model
        cast = m.transformer.get_cast_dtype()
        L = ids.shape[1]
        x = m.token_embedding(ids).to(cast) + m.positional_embedding[:L].to(cast)
        x = m.transformer(x, attn_mask=None if m.attn_mask is None else m.attn_mask[:L, :L])
        return m.ln_final(x), m.text_projection

    def _trim(self, ids: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
        """Drop the padding after the batch's last EOT. Under CLIP's causal mask a position sees only
        itself and earlier ones, so every state up to an EOT is the same with or without the padding
        (up to float summation order), and a 10-token sentence no longer pays for 77 positions."""
        if self.model.attn_mask is None:  # not causal: padding is attended to, keep it
            return ids
        return ids[:, : int(eot.max()) + 1]

    @staticmethod
    def _project(x: torch.Tensor, proj) -> torch.Tensor:
        if proj is None:
            return x
        return proj(x) if isinstance(proj, nn.Linear) else x @ proj

    def _eot_index(self, ids: torch.Tensor) -> torch.Tensor:
        eot = self.tokenizer.encoder["<end_of_text>"]
        return (ids == eot).int().argmax(dim=-1)  # first EOT; CLIP's argmax pooling picks the same

    def forward(self, sentences: list[str], need_attention: bool = False) -> TextEncoding:
        tok: Tokenised = tokenize_with_spans(self.tokenizer, list(sentences), self.model.context_length, self._memo)
        device = self.model.token_embedding.weight.device
        ids = tok.ids.to(device)
        eot = self._eot_index(ids)
        ids = self._trim(ids, eot)
        captured: dict[str, torch.Tensor] = {}
        handles = self._attention_hooks(captured) if need_attention else []
        try:
            states, proj = self._run(ids)
        finally:
            for h in handles:
                h.remove()
        rows = torch.arange(len(ids), device=device)
        tokens = self._project(states, proj)
        sentence = self._project(states[rows, eot], proj)  # pooled first, exactly as encode_text
        positions = torch.arange(ids.shape[1], device=device)
        mask = positions[None, :] <= eot[:, None]
        attention = None
        if need_attention:
            attention = captured["attn"][rows, :, eot, :].mean(dim=1)  # [B, L]
        words = [self._words_of(s, p, sp, t) for s, p, sp, t in zip(sentences, tok.pieces, tok.spans, tok.texts,
                                                                        strict=True)]
        L = ids.shape[1]
        return TextEncoding(tokens=tokens, mask=mask, sentence=sentence, spans=[sp[:L] for sp in tok.spans],
                            attention=attention, texts=tok.texts, words=words, ids=ids,
                            pieces=[pc[:L] for pc in tok.pieces], truncated=tok.truncated)

    def _attention_hooks(self, captured: dict) -> list:
        """Make the last block's nn.MultiheadAttention return per-head weights (open_clip asks
        for need_weights=False) and keep them; see docs/ENGINEERING_NOTES.md section 1."""
        mha = self.model.transformer.resblocks[-1].attn

        def pre(module, args, kwargs):
            kwargs["need_weights"] = True
            kwargs["average_attn_weights"] = False
            return args, kwargs

        def post(module, args, kwargs, out):
            captured["attn"] = out[1]  # [B, heads, L, L]

        return [
            mha.register_forward_pre_hook(pre, with_kwargs=True),
            mha.register_forward_hook(post, with_kwargs=True),
        ]
