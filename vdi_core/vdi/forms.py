"""VDI's injection forms (A6, A8): how a dynamic query is aligned with its target. `vdi.vc_form` and
`vdi.sd_form` name one; the grounding config accepts exactly the registered names.

A form is `(q, target, valid, vdi_cfg) -> loss` (q, target [Q, d]; valid [Q] bool). A new form is one
function here under `@INJECTION_FORMS.register("name")`. The math is imported inside each form, so
this module loads no torch and a config can be checked without it.
"""

from __future__ import annotations

from ..registry import Registry

INJECTION_FORMS: Registry = Registry("injection form", fix="register it in vdi_core/vdi/forms.py")


@INJECTION_FORMS.register("consistent")
def consistent(q, target, valid, cfg):
    """Pull each q^d toward its own (stop-gradient) target: 1 - cos."""
    from .injection import consistent_loss

    return consistent_loss(q, target, valid)


@INJECTION_FORMS.register("relational")
def relational(q, target, valid, cfg):
    """Make the batch's pairwise relations among the q^d's match those among the targets (KL)."""
    from .injection import relational_loss

    return relational_loss(q, target, valid, cfg.tau_relational)
