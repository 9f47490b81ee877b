"""MMN (the grounding model VDI builds on) and its trainer; registers the `grounding` task."""

from .proposals import proposal_mask

__all__ = ["proposal_mask"]
