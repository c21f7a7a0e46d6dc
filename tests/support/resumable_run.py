"""The small `optimize` run the resume, run-directory and full-disk tests kill, tear and compare against."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
ARGS = ["optimize", "--task", "sentiment", "--budget", "30", "--max-tokens", "8", "--seed", "3", "--quiet"]
TIMEOUT = 900


def run_whole(run_dir: Path) -> Path:
    """Run `ARGS` uninterrupted into `run_dir` (a fresh path) and return it."""
    subprocess.run([*SMOLGEPA, *ARGS, "--run-dir", str(run_dir)], check=True, timeout=TIMEOUT, capture_output=True)
    return run_dir
