"""VDI (visual-dynamic injection): static/dynamic queries and the two injection losses."""
