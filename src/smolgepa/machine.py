"""Which machine produced a figure: every recorded accuracy and timing names its CPU and the kernels
the llama.cpp build uses on it (the last bits of every logit depend on both). scripts/setup builds
llama.cpp portable (AVX2), so CPUs differ in speed but run the same kernels."""

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
    built = llama_kernels()
    return f"{model}, {cores} cores" + (f", {shown}" if shown else "") + (f"; llama.cpp kernels: {built}" if built else "")


def llama_kernels() -> str:
    """The instruction sets the installed llama.cpp was compiled to use (`AVX2 FMA F16C`), "" if unknown."""
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - no llama-cpp-python: the CPU line alone
        return ""
    on = [part.split("=")[0].strip() for part in info.replace("CPU :", "").split("|") if part.strip().endswith("= 1")]
    return " ".join(name for name in on if name.startswith(("AVX", "AMX", "FMA", "F16C")))
