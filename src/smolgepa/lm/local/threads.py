"""How many threads a llama.cpp context in this process uses by default."""

from __future__ import annotations

import os


def default_threads() -> int:
    """All cores, or OMP_NUM_THREADS when set (Ray sets it to a task's CPUs, and the test suite to each
    worker's share: processes on one machine then share its cores instead of each running threads on all)."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else os.cpu_count() or 1
