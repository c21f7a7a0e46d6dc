"""Docs that cannot drift: the README's Python example runs, and its set-up commands exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    assert blocks, "the README has no Python example"
    result = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    label, _, raw = result.stdout.strip().partition(" ")
    assert label in {"positive", "negative", "neutral", "None"} and raw.startswith("'")


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick, re.DOTALL)[0].strip().splitlines()
    assert [line.split()[0] for line in commands] == ["scripts/demo", "scripts/test"]
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
    for line in commands:
        assert (ROOT / line.split()[0]).exists()
