"""Docs that cannot drift: the `predict` commands of docs/optimize.md and the `traces import` commands of
docs/traces.md run as written, and print what the page shows (the same ids and fields; the same labels where
the shown answer was clear)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CLEAR = 0.6  # a shown answer whose top score is below this is a near tie another machine may answer otherwise


def section(page: str, title: str) -> str:
    """The section of docs/`page` that starts with the heading `title`, up to the next heading of its level."""
    text = (DOCS / page).read_text(encoding="utf-8")
    assert f"\n{title}\n" in text, f"docs/{page} has no section {title!r}"
    level = title.split(" ", 1)[0]
    return text.split(f"\n{title}\n", 1)[1].split(f"\n{level} ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def run_readme_commands(commands: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A page's commands in bash, with `.venv/bin/smolgepa` as this interpreter's smolgepa, in a
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
    text = section("optimize.md", "## Use what was optimized (`predict`, `smolgepa.load`)")
    (commands,), (shown,) = blocks(text, "bash"), blocks(text, "json")
    assert "smolgepa predict" in commands
    result = run_readme_commands(commands, tmp_path)
    assert result.returncode == 0, result.stderr
    check_shown_output(result.stdout, shown)


@pytest.mark.slow
def test_readme_traces_import_example_runs_and_prints_what_it_shows(tmp_path: Path) -> None:
    text = section("traces.md", "## Importing real logs (`smolgepa traces import`)")
    commands = next(block for block in blocks(text, "bash") if "traces import" in block)
    (shown,) = blocks(text, "json")
    assert "smolgepa predict" in commands
    result = run_readme_commands(commands, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported 3 traces" in result.stderr and "imported 2 traces" in result.stderr
    check_shown_output(result.stdout, shown)
