"""Decode modes in `smolgepa optimize` and `smolgepa study`, with the real embedded student: the mode
is part of the run's configuration (resume refuses another one), and every evaluation is a label."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smolgepa.optimize.rundir import RunDir, read_jsonl
from smolgepa.report.layout import read_manifest
from smolgepa.studies.study_file import load_study
from smolgepa.studies.study_run import run_study

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
SENTIMENT = {"positive", "negative", "neutral"}


@pytest.mark.slow
def test_optimize_with_scored_decode_records_it_and_reads_every_answer(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [*SMOLGEPA, "optimize", "--task", "sentiment", "--decode", "scored", "--budget", "20", "--max-proposals", "1",
         "--run-dir", str(run_dir), "--quiet", "--json"],
        capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["decode"] == "scored" and config["calibrate"] is False
    evaluations = [result["seed"]["val"], result["test"]["seed"], result["test"]["best"]]
    assert all(e["unparsed"] == 0 and e["decode"] == "scored" and e["n"] == 6 for e in evaluations)
    answers = {record["text"] for record in read_jsonl(run_dir / "cache" / "student.jsonl")}
    assert answers and answers <= SENTIMENT  # every student answer, minibatches included, is a label
    shown = subprocess.run([*SMOLGEPA, "show", str(run_dir)], capture_output=True, text=True, timeout=300)
    assert "decode scored" in shown.stdout.splitlines()[0]

    resumed = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--decode", "free"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 2
    assert "decode: saved 'scored', requested 'free'" in resumed.stderr


@pytest.mark.slow
def test_study_with_a_decodes_axis_runs_a_cell_per_mode(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("name: decodes\ntasks: [sentiment]\nstudents: [embedded]\ndecodes: [constrained, scored+calibrate]\n"
                    "budget: 12\nsettings:\n  max_proposals: 1\n", encoding="utf-8")
    study = load_study(path)
    assert [(c.config.decode, c.config.calibrate) for c in study.cells] == [("constrained", False), ("scored", True)]
    result = run_study(study, tmp_path / "out")
    assert [c.status for c in result.cells] == ["finished", "finished"], result.cells
    manifest = read_manifest(tmp_path / "out")
    assert manifest is not None
    names = [cell.name for cell in manifest.cells]
    assert names == ["sentiment__embedded__constrained__seed0", "sentiment__embedded__scored_calibrate__seed0"]
    for name, decode in zip(names, ("constrained", "scored + calibrate")):
        summary = RunDir(tmp_path / "out" / "cells" / name).read_summary()
        assert summary["seed"]["val"]["unparsed"] == 0 and summary["seed"]["val"]["decode"] == decode
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "decode" in markdown and "scored+calibrate" in markdown and "constrained" in markdown


def test_study_decode_values_are_checked_where_they_are_written(tmp_path: Path) -> None:
    from smolgepa.errors import SmolgepaError

    path = tmp_path / "study.yaml"
    path.write_text("tasks: [sentiment]\nstudents: [embedded]\ndecodes: [free, sampled]\n", encoding="utf-8")
    with pytest.raises(SmolgepaError, match=rf"{path}:3: unknown decode mode 'sampled'\. Available: free, constrained"):
        load_study(path)
    path.write_text("tasks: [sentiment]\nstudents: ['lmstudio:smollm2']\ndecodes: [free, scored]\n", encoding="utf-8")
    with pytest.raises(SmolgepaError, match="lmstudio can do: free, constrained"):
        load_study(path)
