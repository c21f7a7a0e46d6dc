"""Which machine produced a figure: llama.cpp is built for the host CPU, so its kernels (and with them
the last bits of every logit) differ between CPUs; every recorded accuracy and timing names its CPU."""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path

# The instruction-set extensions llama.cpp's CPU kernels choose between.
KERNEL_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_tile")


@lru_cache(maxsize=1)
def cpu_description() -> str:
    """The CPU model, core count and kernel-relevant flags, e.g. `AMD EPYC, 2 cores, avx2 fma avx512f`."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    shown = " ".join(flag for flag in KERNEL_FLAGS if flag in flags)
    cores = os.cpu_count() or 1
    return f"{model}, {cores} cores" + (f", {shown}" if shown else "")
