"""vdi-repro: a reproducibility suite for the supplementary tables of VDI (CVPR 2023).

Data flow: experiments/<table>.toml -> spec -> rows x seeds -> resolved config -> key
-> run store results/<profile>/<key>.json -> tables/<profile>/<table>.md, report, `vdi check`.
"""

# Bump when a change alters the numbers a task produces: it is part of every run key, so old
# results stop matching and are re-run instead of being silently mixed with new ones.
CODE_VERSION = "2"  # 2: CLIP text tower trims the padding after the last EOT
__version__ = "0.1.0"
