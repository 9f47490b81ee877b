"""MMN, the grounding model VDI builds on: pooling, 2D proposal map, heads, losses, trainer. The
`grounding` task that runs it for a table row is vdi_core/tasks/grounding.py."""
