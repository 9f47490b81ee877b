"""The "separated" text encoder: a tiny DistilBERT pre-trained on the toy captions alone
(masked-LM, never shown an image), with a word-level WordPiece vocabulary of the world's words.
Saved as a Hugging Face directory, loadable with `AutoModel` / `AutoTokenizer` offline."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import torch

from . import grammar
from .micro_models import BERT_CFG

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocabulary(world: dict) -> list[str]:
    return SPECIAL + grammar.all_words(world["vocab"]["colours"], world["vocab"]["shapes"],
                                       world["vocab"]["landmark_positions"])


def train_text_encoder(world: dict, captions: list[str], steps: int, seed: int, out_dir: Path,
                       batch_size: int = 128, lr: float = 2e-3, log=print) -> Path:
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertTokenizerFast

    torch.manual_seed(seed)
    tmp = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # transformers 5 ignores `vocab_file` for fast tokenizers: pass the vocabulary itself
    tok = DistilBertTokenizerFast(vocab={w: i for i, w in enumerate(vocabulary(world))}, do_lower_case=True)
    cfg = DistilBertConfig(vocab_size=len(tok), pad_token_id=0, **BERT_CFG)
    model = DistilBertForMaskedLM(cfg)
    uniq = sorted(set(captions))
    enc = tok(uniq, padding="max_length", truncation=True, max_length=BERT_CFG["max_position_embeddings"],
              return_tensors="pt")
    unk = int((enc["input_ids"] == tok.unk_token_id).sum())
    if unk:
        raise RuntimeError(f"{unk} caption words are missing from the world vocabulary")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    special = torch.isin(ids, torch.tensor(tok.all_special_ids))
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = torch.randint(len(ids), (batch_size,), generator=gen)
        x, m, sp = ids[idx].clone(), mask[idx], special[idx]
        chosen = (torch.rand(x.shape, generator=gen) < 0.15) & ~sp
        labels = torch.where(chosen, x, torch.full_like(x, -100))
        x[chosen] = tok.mask_token_id
        loss = model(input_ids=x, attention_mask=m, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"[mini] pre-training separated text (masked LM): step {step + 1}/{steps} loss {loss.item():.3f}")
    model.eval()
    # the base encoder (no MLM head) is what a grounding text tower loads
    model.distilbert.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return out_dir

