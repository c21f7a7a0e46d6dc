"""Runs and benchmarks name the CPU they were measured on."""

from __future__ import annotations

import os

from smolgepa.machine import KERNEL_FLAGS, cpu_description, llama_kernels
from smolgepa.optimize.tables import render_run


def test_cpu_description_names_cores_and_only_known_kernel_flags() -> None:
    text, _, kernels = cpu_description().partition("; llama.cpp kernels: ")
    assert kernels == llama_kernels()
    model, cores, *flags = text.split(", ")
    assert model and cores == f"{os.cpu_count()} cores"
    assert all(flag in KERNEL_FLAGS for part in flags for flag in part.split())


def test_run_tables_say_which_machine_answered() -> None:
    assert "Measured on: Some CPU, 2 cores" in render_run({"machine": "Some CPU, 2 cores"})
    assert "Measured on" not in render_run({})  # runs from before the field existed


def test_run_tables_say_which_model_file_answered_and_how_to_answer_from_it_elsewhere() -> None:
    copy = {"path": "/cache/models/SmolLM2.Q4_1.ab12.Q8_0.gguf", "format": "Q8_0", "sha256": "7b46609d1170aa"}
    text = render_run({"model_file": copy})
    assert "Model file: SmolLM2.Q4_1.ab12.Q8_0.gguf (Q8_0, sha256 7b46609d1170)" in text
    assert "--model-format Q8_0 answers from the same format on another CPU" in text
    shipped = render_run({"model_file": {**copy, "path": "/x/SmolLM2.Q4_1.gguf", "format": "Q4_1"}})
    assert "Model file: SmolLM2.Q4_1.gguf (Q4_1" in shipped and "--model-format" not in shipped
    assert "Model file" not in render_run({})  # server students and runs from before the field existed


def test_llama_cpp_is_the_portable_build() -> None:
    """scripts/setup compiles llama.cpp for AVX2 only: a native AVX-512/AMX build segfaulted on an
    Intel Xeon with AMX (ggml-org/llama.cpp#20824) and computes different logits on every CPU."""
    kernels = llama_kernels().split()
    assert "AVX2" in kernels
    assert not [k for k in kernels if k.startswith(("AVX512", "AMX"))], kernels
