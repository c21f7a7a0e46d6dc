"""Runs and benchmarks name the CPU they were measured on."""

from __future__ import annotations

import os

from smolgepa.machine import KERNEL_FLAGS, cpu_description
from smolgepa.optimize.tables import render_run


def test_cpu_description_names_cores_and_only_known_kernel_flags() -> None:
    text = cpu_description()
    model, cores, *flags = text.split(", ")
    assert model and cores == f"{os.cpu_count()} cores"
    assert all(flag in KERNEL_FLAGS for part in flags for flag in part.split())


def test_run_tables_say_which_machine_answered() -> None:
    assert "Measured on: Some CPU, 2 cores" in render_run({"machine": "Some CPU, 2 cores"})
    assert "Measured on" not in render_run({})  # runs from before the field existed
