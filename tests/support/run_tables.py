"""What `smolgepa show` prints for a run directory, without the lines that differ between equal runs."""

from __future__ import annotations

import contextlib
import io
import threading
from pathlib import Path

from smolgepa.cli import main

VARYING = ("Student calls:", "Run directory:")  # wall times and the directory's own name
_STDOUT = threading.Lock()  # redirect_stdout swaps sys.stdout for the whole process


def run_tables(run_dir: Path) -> str:
    """The printed tables of `run_dir`, without timings and its path.

    `smolgepa show` runs in this process: the same output as the command, without a second or more
    of interpreter start and imports per call (the crash tests compare tables dozens of times)."""
    out = io.StringIO()
    with _STDOUT, contextlib.redirect_stdout(out):
        status = main(["show", str(run_dir)])
    assert status == 0, f"smolgepa show {run_dir} exited with {status}"
    return "\n".join(line for line in out.getvalue().splitlines() if not line.startswith(VARYING))
