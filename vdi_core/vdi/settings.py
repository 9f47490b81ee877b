"""VDI's knobs (the `vdi` section of a grounding config): loss weights, injection forms and targets,
temperatures, the dynamic-feature source and the tagger (docs/REPRODUCTION_NOTES.md S4-S7, A3,
A5-A11). Lives with the losses that read it; no torch here, so configs validate without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .forms import INJECTION_FORMS

INJECTION_TARGETS = ("dynamic", "sentence")
CONTEXT_QUERIES = ("static", "random_half")
DYNAMIC_SOURCES = ("auto", "patches", "frames")


def _a(default, assumption: str):
    return field(default=default, metadata={"assumption": assumption})


@dataclass
class VdiConfig:
    lambda_vc: float = 0.5
    lambda_sd: float = 0.01
    vc_form: str = _a("consistent", "A6")
    sd_form: str = _a("relational", "A8")
    inject_into: str = _a("dynamic", "A9")
    context_query: str = _a("static", "A10")
    tau_context: float = _a(0.1, "A5")
    tau_relational: float = _a(0.1, "A6")
    tau_spatial: float = _a(0.1, "A7")
    dynamic_source: str = _a("auto", "A11")  # auto: patches when present, else frame differences
    spacy_model: str = _a("en_core_web_sm", "A3")


# dotted key (within a grounding config) -> allowed values; the forms are the registered ones
CHOICES = {
    "vdi.vc_form": INJECTION_FORMS,
    "vdi.sd_form": INJECTION_FORMS,
    "vdi.inject_into": INJECTION_TARGETS,
    "vdi.context_query": CONTEXT_QUERIES,
    "vdi.dynamic_source": DYNAMIC_SOURCES,
}
