"""The registry of VDI's injection forms (A6, A8): how a dynamic query is aligned with its target.

A form is `(q, target, valid, vdi_cfg) -> loss`; `vdi.vc_form` and `vdi.sd_form` name one. The
entries are lazy so the grounding config can check a name without importing torch. A new form is
its function (vdi/injection.py or any module) plus one line here.
"""

from __future__ import annotations

from ..registry import Registry

INJECTION_FORMS: Registry = Registry("injection form", fix="register it in vdi_core/vdi/forms.py")
INJECTION_FORMS.register("consistent", "vdi_core.vdi.injection:consistent_form")  # pull q^d toward its target
INJECTION_FORMS.register("relational", "vdi_core.vdi.injection:relational_form")  # match the batch's relations
