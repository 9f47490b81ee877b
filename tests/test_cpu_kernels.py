"""CPU kernels pinned to AVX2 (vdi_core/cpu_kernels.py): set before torch loads, the user's choice kept."""

import os
import subprocess
import sys

import pytest

from vdi_core import cpu_kernels

AVX2_INFO = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
OLD_INFO = "processor\t: 0\nflags\t\t: fpu sse sse2 avx\n"


def test_pin_sets_the_avx2_kernels_where_unset():
    env = {}
    assert cpu_kernels.pin(env, AVX2_INFO) == cpu_kernels.AVX2 and env == cpu_kernels.AVX2


def test_pin_keeps_the_users_choice():
    env = {"ATEN_CPU_CAPABILITY": "avx512"}
    got = cpu_kernels.pin(env, AVX2_INFO)
    assert got["ATEN_CPU_CAPABILITY"] == "avx512" and got["MKL_CBWR"] == "AVX2"


def test_pin_sets_nothing_without_avx2():
    env = {}
    assert cpu_kernels.pin(env, OLD_INFO) == {} and env == {}
    assert not cpu_kernels.has_avx2("flags : avx2x avx512f\n")  # whole flags only


@pytest.mark.skipif(not cpu_kernels.has_avx2(), reason="this CPU has no AVX2 (or is not x86-64)")
def test_the_cli_pins_torch_before_it_loads():
    env = {k: v for k, v in os.environ.items() if k not in cpu_kernels.AVX2}
    code = "import vdi_core.cli, torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "AVX2"
    env["ATEN_CPU_CAPABILITY"] = "default"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() != "AVX2"  # the user's setting wins
