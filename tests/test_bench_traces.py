"""benchmarks/bench.py --traces: the speed lines of issues 14 and 15, as printed, through the real
embedded model (summary vs plain rendering, channel/ensemble vs scored, kNN anchor reuse)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# bench.py's Figure.line: `RATIO <name> <value, 3 significant digits> target <op> <target>  # note`
LINE = re.compile(r"^RATIO (?P<name>\w+) (?P<value>[0-9.]+(?:e[+-]?\d+)?) target (?P<op><=|>=) (?P<target>[0-9.]+)(?:  # (?P<note>.*))?$")
EXPECTED = {"summary_vs_plain": ("<=", 0.25), "channel_vs_scored": ("<=", 3.0), "ensemble_vs_scored": ("<=", 6.0),
            "knn_anchor_reuse": (">=", None), "probe_anchor_reuse": (">=", None), "hidden_anchor_reuse": (">=", None)}


def parse(stdout: str) -> dict[str, re.Match[str]]:
    return {m["name"]: m for m in map(LINE.match, stdout.splitlines()) if m}


def test_the_line_pattern_rejects_malformed_lines() -> None:
    assert parse("RATIO summary_vs_plain 0.181 target <= 0.25  # 90 vs 500 ms/example")
    for bad in ("RATIO summary_vs_plain target <= 0.25", "RATIO summary_vs_plain 0.18 target < 0.25",
                "FIGURE summary_vs_plain 0.18 target <= 0.25", "# RATIO summary_vs_plain skipped: x"):
        assert not parse(bad), bad


@pytest.mark.slow
def test_bench_traces_prints_every_speed_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SMOLGEPA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks/bench.py"), "--quick", "--rounds", "1", "--traces"],
                          capture_output=True, text=True, timeout=1800, env=env)
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a target missed on a busy machine
    lines = parse(done.stdout)
    assert set(lines) == set(EXPECTED), done.stdout
    for name, (op, target) in EXPECTED.items():
        assert lines[name]["op"] == op, name
        if target is not None:
            assert float(lines[name]["target"]) == target, name
        assert float(lines[name]["value"]) > 0 and "ms/example" in lines[name]["note"], name
    # the kNN target is half the gain of building 10 anchors once for 3 queries
    for name in ("knn_anchor_reuse", "probe_anchor_reuse", "hidden_anchor_reuse"):
        assert float(lines[name]["target"]) == pytest.approx(1 + 0.5 * 10 / 3, abs=0.01)
    assert "| summary_vs_plain |" in done.stdout  # the Markdown table carries the new rows too
