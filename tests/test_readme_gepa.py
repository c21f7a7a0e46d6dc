"""The `smolgepa.gepa` example of docs/library.md (section "GEPA on your own program") runs as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

LIBRARY_DOC = (Path(__file__).resolve().parents[1] / "docs" / "library.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_readme_gepa_example_runs_and_writes_its_run_directory(tmp_path: Path) -> None:
    section = LIBRARY_DOC.split("## GEPA on your own program", 1)[1].split("\n## ", 1)[0]
    [block] = [block for block in re.findall(r"```python\n(.*?)```", section, re.DOTALL) if "smolgepa.gepa(" in block]
    result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "gepa-run" / "summary.json").read_text())
    assert summary["seed_val"]["n"] == 2 and summary["metric_calls"] <= 12 + 2
    assert result.stdout.strip().splitlines()[-1] == summary["best_instructions"]["predict"].splitlines()[-1]
