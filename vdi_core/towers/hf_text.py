"""DistilBERT text tower ("Separated" backbone, as in MMN) from a local Hugging Face directory.

The sentence feature is MMN's: the mean over all tokens including [CLS] and [SEP] (padding
excluded) of the last layer. Token character spans come from the fast tokenizer's offsets, so the
static/dynamic query split (A3/A4) aligns to DistilBERT's word pieces exactly as to CLIP's BPE.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..datatypes import ModelSpec
from ..errors import VdiError
from .clip import NO_SPAN, TextEncoding


class HfTextTower(nn.Module):
    def __init__(self, model: nn.Module, tokenizer, max_length: int = 64):
        super().__init__()
        if not getattr(tokenizer, "is_fast", False):
            raise VdiError("the Hugging Face tokenizer must be a fast tokenizer (tokenizer.json) to give character "
                           "offsets; save it with transformers' *TokenizerFast")
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.dim = int(model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.dim)

    def forward(self, sentences: list[str]) -> TextEncoding:
        enc = self.tokenizer(list(sentences), padding=True, truncation=True, max_length=self.max_length,
                             return_offsets_mapping=True, return_tensors="pt")
        device = next(self.model.parameters()).device
        ids = enc["input_ids"].to(device)
        mask = enc["attention_mask"].to(device).bool()
        tokens = self.model(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # [B, L, D]
        # MMN's "avg" aggregation: every non-padding token, [CLS] and [SEP] included.
        w = mask.to(tokens.dtype)
        sentence = (tokens * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp(min=1)
        special = enc["special_tokens_mask"] if "special_tokens_mask" in enc else None
        spans = []
        for b, offs in enumerate(enc["offset_mapping"].tolist()):
            row = []
            for t, (s, e) in enumerate(offs):
                is_special = (special is not None and special[b, t]) or not mask[b, t] or e <= s
                row.append(NO_SPAN if is_special else (int(s), int(e)))
            spans.append(row)
        return TextEncoding(tokens=tokens, mask=mask, sentence=sentence, spans=spans, attention=None,
                            texts=list(sentences), words=[[] for _ in sentences], ids=ids)


def load_hf_text(spec: ModelSpec, device: str = "cpu") -> HfTextTower:
    """A text tower from a local directory (config, weights, tokenizer.json); never the hub."""
    path = Path(spec.model).expanduser()
    if not path.is_dir():
        raise VdiError(f"Hugging Face model directory {path} not found (ModelSpec.model must be a local directory, "
                       "e.g. a saved distilbert-base-uncased); run `vdi data fetch distilbert`")
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, use_fast=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise VdiError(f"cannot load the text model from {path}: {first}") from e
    return HfTextTower(model.to(device), tokenizer)
