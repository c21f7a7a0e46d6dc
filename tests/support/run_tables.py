"""What `smolgepa show` prints for a run directory, without the lines that differ between equal runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
VARYING = ("Student calls:", "Run directory:")  # wall times and the directory's own name


def run_tables(run_dir: Path, timeout: float | None = None) -> str:
    """The printed tables of `run_dir`, without timings and its path."""
    out = subprocess.run([*SMOLGEPA, "show", str(run_dir)], capture_output=True, text=True, check=True,
                         timeout=timeout).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith(VARYING))
