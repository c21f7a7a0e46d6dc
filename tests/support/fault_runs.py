"""Fault-free CLI runs against the session's llama.cpp server that the fault suites compare with.

tests/test_fault_injection_cli.py and tests/test_faults_at_scale.py both compare a faulty `eval` and
`optimize` with the same direct ones; each direct run is made once per pytest process (conftest
`direct_runs`): once under one worker, once per worker when the two modules land on different workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
TIMEOUT = 900
# The test split (6 texts): the faults, not the number of texts, are what these runs count; each
# example is answered and compared the same way.
EVAL = ["eval", "--json", "--task", "sentiment", "--split", "test", "--no-cache", "--max-tokens", "8"]
OPTIMIZE = ["optimize", "--task", "sentiment", "--budget", "24", "--max-proposals", "2", "--max-tokens", "8",
            "--seed", "0", "--quiet"]


def run(*args: str) -> str:
    """The stdout of a CLI run that must succeed."""
    result = subprocess.run([*SMOLGEPA, *args], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


class DirectRuns:
    """`eval` in one decode mode and one `optimize`, straight to the server, each made at most once."""

    def __init__(self, student: str, directory: Path) -> None:
        self.student = student
        self.directory = directory
        self._evals: dict[tuple[str, ...], str] = {}
        self._optimized: Path | None = None

    def eval(self, *decode: str) -> str:
        """`eval --json` stdout with `--decode DECODE...` (e.g. `free`, or `scored --calibrate`)."""
        if decode not in self._evals:
            self._evals[decode] = run(*EVAL, "--student", self.student, "--decode", *decode)
        return self._evals[decode]

    def optimize(self) -> Path:
        """The run directory of `OPTIMIZE` (read only: copy it before changing anything)."""
        if self._optimized is None:
            self._optimized = self.directory / "optimize-clean"
            run(*OPTIMIZE, "--student", self.student, "--run-dir", str(self._optimized))
        return self._optimized
