"""Pin the CPU kernels torch, MKL and oneDNN may choose, so a seed gives the same numbers on any
x86-64 machine with AVX2, not only on machines of one instruction set.

torch (ATen), MKL and oneDNN pick their kernels by what the CPU offers; an AVX-512 machine runs other
code paths than an AVX2 one, and float sums come out in another order. Measured 2026-12-02: three
pre-training steps of the micro-ViT give other weights under ATEN_CPU_CAPABILITY=default than under
avx2, and the micro-CLIPs pre-trained on this session's AVX2 machine differ from those of an earlier
machine (Table 1's object Dif 0.872 against 0.834), and with them every mini number. The committed
tables/mini come from AVX2 kernels; on that machine setting the three variables changed no weight
(the same three-step check). Whether an AVX-512 machine then gives the very same bits was not
measured (none was at hand).

The variables must be set before torch is first imported: `vdi_core.cli` and the test suite call
`pin()` first thing. A value the user has set is kept (`ATEN_CPU_CAPABILITY=avx512 vdi run ...`
trades reproducibility for speed). Nothing is set on a CPU without AVX2 or off x86-64.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def has_avx2(cpuinfo: str | None = None) -> bool:
    """Whether this x86-64 CPU has AVX2 (Linux: /proc/cpuinfo's flags)."""
    if cpuinfo is None:
        if platform.machine().lower() not in ("x86_64", "amd64"):
            return False
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return "avx2" in flags.split()


def pin(environ=os.environ, cpuinfo: str | None = None) -> dict[str, str]:
    """Set the AVX2 kernel variables where unset; returns what is now in force."""
    if not has_avx2(cpuinfo):
        return {}
    for key, value in AVX2.items():
        environ.setdefault(key, value)
    return {key: environ[key] for key in AVX2}
