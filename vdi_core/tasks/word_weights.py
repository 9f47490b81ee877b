"""Figure 1: how much weight CLIP's text encoder puts on nouns, verbs and other words.

A word's weight (A15) is the last layer's attention from the EOT token (whose state becomes the
sentence feature), averaged over heads and summed over the word's BPE pieces; SOT and EOT are not
words. Words are grouped by spaCy's coarse POS: Nouns (NOUN, PROPN), Verbs (VERB), Others.
The supplement reads its Figure 1 as "nouns receive more weight than verbs".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..context import RunContext
from ..errors import VdiError, did_you_mean
from ..pos_tagger import load_spacy as _load_spacy
from ..pos_tagger import model_name
from ..sources import get_source
from . import Task, TaskResult
from .probe import input_fingerprint

GROUPS = ("noun", "verb", "other")
POS_GROUP = {"NOUN": "noun", "PROPN": "noun", "VERB": "verb"}  # every other tag: "other"
@dataclass
class WordWeightsDataConfig:
    source: str = "sentences"
    backbone: str = "vit-joint"  # paper: CLIP ViT-B/32 (A1); named as in the grounding config
    root: str = ""  # paper: data root (empty: env VDI_DATA, else <repo>/data)
    weights: str = ""  # paper: a CLIP checkpoint path instead of the manifest's
    charades_artefact: str = "charades_sta_test"  # paper: manifest entry of the Charades-STA sentences
    activitynet_artefact: str = "activitynet_captions_val_2"  # paper: ActivityNet Captions sentences


@dataclass
class WordWeightsConfig:
    data: WordWeightsDataConfig = field(default_factory=WordWeightsDataConfig)
    piece_reduce: str = field(default="sum", metadata={"assumption": "A15"})
    exclude_punctuation: bool = field(default=False, metadata={"assumption": "A15"})
    max_sentences: int = 0  # per data set; 0 = all, else a sample drawn with the run's seed
    batch_size: int = 128
    bins: int = 40


PIECE_REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max}


# --- part of speech -------------------------------------------------------------------------------


def load_spacy():
    """The tagger alone (no parser): Figure 1 needs parts of speech only."""
    return _load_spacy("en_core_web_sm", disable=("parser", "ner", "lemmatizer"))


def spacy_text(original: str, cleaned: str) -> str:
    """The text to tag: the cleaned sentence with its original case when lower-casing keeps the
    character offsets (it nearly always does), so PROPN and sentence-initial words tag better."""
    from open_clip.tokenizer import basic_clean, whitespace_clean

    cased = whitespace_clean(basic_clean(original))
    return cased if cased.lower() == cleaned else cleaned


def align_pos(words, doc) -> list[str]:
    """POS tag per BPE word: the spaCy token overlapping the word's characters most."""
    tokens = [(t.idx, t.idx + len(t.text), t.pos_) for t in doc]
    tags = []
    for w in words:
        start, end = w.span
        best, best_overlap = "X", 0
        for ts, te, pos in tokens:
            overlap = min(end, te) - max(start, ts)
            if overlap > best_overlap:
                best, best_overlap = pos, overlap
        tags.append(best)
    return tags


def group_of(pos: str) -> str:
    return POS_GROUP.get(pos, "other")


# --- weights per word -----------------------------------------------------------------------------


@dataclass
class WordRecord:
    sentence: int  # index in its data set
    word: str
    pos: str
    group: str
    weight: float


def word_records(tower, nlp, sentences: list[str], cfg: WordWeightsConfig, progress=lambda *a: None):
    """(records, n_truncated): one record per word of every sentence."""
    import torch

    from ..towers.bpe import is_punctuation

    records: list[WordRecord] = []
    truncated = 0
    for start in range(0, len(sentences), cfg.batch_size):
        batch = sentences[start : start + cfg.batch_size]
        with torch.inference_mode():
            enc = tower(batch, need_attention=True)  # EOT row, mean over heads (A15)
        attention = enc.attention.float().cpu().numpy()
        docs = nlp.pipe([spacy_text(o, c) for o, c in zip(batch, enc.texts, strict=True)], batch_size=256)
        for b, (doc, words) in enumerate(zip(docs, enc.words, strict=True)):
            truncated += int(enc.truncated[b])
            for w, pos in zip(words, align_pos(words, doc), strict=True):
                if cfg.exclude_punctuation and all(is_punctuation(enc.pieces[b][p]) for p in w.positions):
                    continue
                weight = float(PIECE_REDUCE[cfg.piece_reduce](attention[b, list(w.positions)]))
                records.append(WordRecord(start + b, w.text, pos, group_of(pos), weight))
        progress("sentences", min(start + cfg.batch_size, len(sentences)), len(sentences))
    return records, truncated


def summarise(records: list[WordRecord]) -> tuple[dict[str, float], dict]:
    """Mean and median weight per group, and the mean over sentences of the share of the
    sentence's word weight that falls on nouns / verbs."""
    metrics, counts = {}, {}
    weights = {g: np.array([r.weight for r in records if r.group == g]) for g in GROUPS}
    for g in GROUPS:
        counts[g] = int(len(weights[g]))
        if len(weights[g]):
            metrics[f"{g}_mean"] = float(weights[g].mean())
            metrics[f"{g}_median"] = float(np.median(weights[g]))
    per_sentence: dict[int, dict[str, float]] = {}
    for r in records:
        s = per_sentence.setdefault(r.sentence, dict.fromkeys(GROUPS, 0.0))
        s[r.group] += r.weight
    shares = {g: [] for g in ("noun", "verb")}
    for s in per_sentence.values():
        total = sum(s.values())
        if total > 0:
            for g in shares:
                shares[g].append(s[g] / total)
    for g, values in shares.items():
        if values:
            metrics[f"{g}_share"] = float(np.mean(values))
    return metrics, {"words": counts, "sentences": len(per_sentence)}


# --- the task -------------------------------------------------------------------------------------


def _sample(sentences: list[str], n: int, seed: int) -> list[str]:
    if not n or n >= len(sentences):
        return sentences
    keep = np.sort(np.random.default_rng(seed).choice(len(sentences), n, replace=False))
    return [sentences[i] for i in keep]


def run(cfg: WordWeightsConfig, ctx: RunContext) -> TaskResult:
    from ..towers.clip import ClipTextTower, load_clip
    from .word_weights_plot import write_figure, write_summary

    if cfg.piece_reduce not in PIECE_REDUCE:
        raise VdiError(f"piece_reduce: unknown '{cfg.piece_reduce}'{did_you_mean(cfg.piece_reduce, PIECE_REDUCE)}")
    data = get_source(ctx.profile, cfg.data.source)(cfg.data, ctx)
    stated = fingerprint(cfg, ctx).get("data")  # the run key's identity must be the data's own
    if stated is not None and stated != data.fingerprint:
        raise VdiError(f"data source '{cfg.data.source}' ({ctx.profile}) states fingerprint {stated} but its data "
                       f"carries {data.fingerprint}; fix the source's fingerprint hook")
    model, _, tokenizer = load_clip(data.clip, ctx.device)
    tower = ClipTextTower(model, tokenizer).eval()
    nlp = load_spacy()
    metrics, per_set, extra = {}, {}, {"words": {}, "sentences": {}, "truncated": {}}
    for set_name, sentences in data.sets.items():
        chosen = _sample(list(sentences), cfg.max_sentences, ctx.seed)
        records, truncated = word_records(tower, nlp, chosen, cfg, ctx.progress)
        set_metrics, info = summarise(records)
        metrics.update({f"{set_name}.{k}": v for k, v in set_metrics.items()})
        per_set[set_name] = records
        extra["words"][set_name] = info["words"]
        extra["sentences"][set_name] = info["sentences"]
        extra["truncated"][set_name] = truncated
    # The run's artifact folder sits beside its result JSON; `vdi render` copies the PNG next to
    # tables/<profile>/fig1.md (the spec lists it under `outputs`).
    out_png = (ctx.artifact_dir or ctx.work_dir / "artifacts") / "fig1.png"
    write_figure(per_set, out_png, cfg.bins)
    # not <stem>.md: the renderer writes tables/<profile>/fig1.md for the spec itself
    out_md = out_png.with_name(f"{out_png.stem}_summary.md")
    write_summary(per_set, metrics, out_md, out_png.name, model_name=data.clip.model)
    extra.update(png=str(out_png), summary_md=str(out_md), data_fingerprint=data.fingerprint,
                 model_fingerprint=data.clip.fingerprint, spacy_model=model_name(nlp))
    return TaskResult(metrics=metrics, extra=extra)


def fingerprint(cfg: WordWeightsConfig, ctx: RunContext) -> dict[str, str]:
    return input_fingerprint(cfg.data, ctx)


TASK = Task("word_weights", WordWeightsConfig, run, fingerprint)
