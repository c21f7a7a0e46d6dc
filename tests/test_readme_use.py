"""Docs that cannot drift: the README's `predict` and `traces import` commands run as written, and print
what the README shows (the same ids and fields; the same labels where the shown answer was clear)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLEAR = 0.6  # a shown answer whose top score is below this is a near tie another machine may answer otherwise


def section(title: str) -> str:
    """The README section that starts with the heading `title`, up to the next heading of its level."""
    assert f"\n{title}\n" in README, f"the README has no section {title!r}"
    return README.split(f"\n{title}\n", 1)[1].split("\n### ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def run_readme_commands(commands: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The README's commands in bash, with `.venv/bin/smolgepa` as this interpreter's smolgepa, in a
    directory that has the repository's `examples/`."""
    (cwd / "examples").symlink_to(ROOT / "examples")
    script = 'set -euo pipefail\nsmolgepa() { "$SMOLGEPA_PYTHON" -m smolgepa "$@"; }\n'
    script += commands.replace(".venv/bin/smolgepa", "smolgepa")
    env = {**os.environ, "SMOLGEPA_PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


def check_shown_output(stdout: str, shown: str) -> None:
    printed = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"id"')]
    expected = [json.loads(line) for line in shown.strip().splitlines()]
    assert [p["id"] for p in printed] == [e["id"] for e in expected]
    for got, want in zip(printed, expected):
        assert set(got) == set(want) == {"id", "label", "scores", "raw"}
        assert set(got["scores"]) == set(want["scores"]) and sum(got["scores"].values()) == pytest.approx(1, abs=1e-4)
        assert got["label"] == max(got["scores"], key=got["scores"].get)
        if max(want["scores"].values()) >= CLEAR:
            assert got["label"] == want["label"], (got, want)


@pytest.mark.slow
def test_readme_predict_example_runs_and_prints_what_it_shows(tmp_path: Path) -> None:
    text = section("### Use what was optimized (`predict`, `smolgepa.load`)")
    (commands,), (shown,) = blocks(text, "bash"), blocks(text, "json")
    assert "smolgepa predict" in commands
    result = run_readme_commands(commands, tmp_path)
    assert result.returncode == 0, result.stderr
    check_shown_output(result.stdout, shown)


@pytest.mark.slow
def test_readme_traces_import_example_runs_and_prints_what_it_shows(tmp_path: Path) -> None:
    text = section("### Agent traces")
    commands = next(block for block in blocks(text, "bash") if "traces import" in block)
    (shown,) = blocks(text, "json")
    assert "smolgepa predict" in commands
    result = run_readme_commands(commands, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported 3 traces" in result.stderr and "imported 2 traces" in result.stderr
    check_shown_output(result.stdout, shown)
