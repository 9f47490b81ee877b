"""Figure 1's outputs: the histogram PNG (one panel per data set, one colour per POS group, y in
% of the group's words, as in the supplement) and a markdown summary next to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_write, atomic_write_text

GROUP_STYLE = {"noun": ("Nouns", "tab:blue"), "verb": ("Verbs", "tab:red"), "other": ("Others", "tab:gray")}
SET_TITLES = {"charades_sta": "Charades-STA", "activitynet": "ActivityNet Captions"}


def write_figure(per_set: dict, out_png: Path, bins: int) -> None:
    """per_set: data set name -> list of WordRecord."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no global backend switch
    from matplotlib.figure import Figure

    names = list(per_set)
    fig = Figure(figsize=(4.5 * max(1, len(names)), 3.4), dpi=120)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(1, len(names)), squeeze=False)[0]
    top = max((r.weight for recs in per_set.values() for r in recs), default=1.0)
    edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    for ax, name in zip(axes, names, strict=True):
        for group, (label, colour) in GROUP_STYLE.items():
            w = np.array([r.weight for r in per_set[name] if r.group == group])
            if len(w):
                ax.hist(w, bins=edges, weights=np.full(len(w), 100.0 / len(w)), histtype="stepfilled",
                        alpha=0.45, color=colour, edgecolor=colour, label=f"{label} (n={len(w)})")
        ax.set_title(SET_TITLES.get(name, name))
        ax.set_xlabel("weight (last-layer attention from EOT)")
        ax.set_ylabel("% of words")
        ax.legend(fontsize=8)
    fig.tight_layout()
    # metadata without dates, so the same numbers give the same bytes
    atomic_write(Path(out_png), lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))


def write_summary(per_set: dict, metrics: dict, out_md: Path, png_name: str, model_name: str) -> None:
    lines = [
        f"# Figure 1: word weights by part of speech ({model_name})",
        "",
        f"![word weight histograms]({png_name})",
        "",
        "Weight of a word: last-layer attention from the EOT token, mean over heads, summed over the",
        "word's BPE pieces (A15); POS from spaCy (Nouns = NOUN, PROPN; Verbs = VERB; Others = the rest).",
        "Share: mean over sentences of the group's part of the sentence's total word weight.",
        "",
        "| data set | group | words | mean weight | median weight | share of sentence weight |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, records in per_set.items():
        for group, (label, _) in GROUP_STYLE.items():
            n = sum(r.group == group for r in records)
            mean = metrics.get(f"{name}.{group}_mean")
            median = metrics.get(f"{name}.{group}_median")
            share = metrics.get(f"{name}.{group}_share")
            fmt = lambda v: "—" if v is None else f"{v:.4f}"  # noqa: E731
            title = SET_TITLES.get(name, name)
            lines.append(f"| {title} | {label} | {n} | {fmt(mean)} | {fmt(median)} | {fmt(share)} |")
    lines += ["", "Claim (supplement, Fig. 1): nouns receive more weight than verbs."]
    for name in per_set:
        noun, verb = metrics.get(f"{name}.noun_mean"), metrics.get(f"{name}.verb_mean")
        if noun is not None and verb is not None:
            mark = "✓" if noun > verb else "✗"
            lines.append(f"- {SET_TITLES.get(name, name)}: noun mean {noun:.4f} vs verb mean {verb:.4f} {mark}")
    text = "\n".join(lines) + "\n"
    atomic_write_text(Path(out_md), text)
