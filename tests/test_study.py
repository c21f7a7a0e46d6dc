"""Study files (validated with file:line errors) and `smolgepa study` as a user runs it: every cell a
real run of the embedded student; a study killed mid-cell resumes; finished cells are skipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.optimize import OptimizeConfig
from smolgepa.optimize.rundir import RunDir
from smolgepa.report.layout import read_manifest
from smolgepa.studies.study_run import cell_state, run_study
from smolgepa.studies.study_file import load_study

ROOT = Path(__file__).resolve().parents[1]
SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def study_file(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(SmolgepaError) as caught:
        load_study(path)
    return str(caught.value)


@pytest.mark.parametrize("text, where, words", [
    ("name: x\ntasks: [sentiment]\ntaks: [agent_monitor]\nstudents: [embedded]\n", ":3:", "unknown key 'taks'"),
    ("tasks: [sentiment]\nstudents:\n  - embedded\n  - nosuch:model\n", ":2:", "Unknown student 'nosuch:model'"),
    ("tasks: [sentiment, no_such_task]\nstudents: [embedded]\n", ":1:", "no_such_task"),
    ("tasks: [sentiment]\nstudents: [embedded]\nseed: 1\nseeds: [1, 2]\n", ":3:", "either seed: or seeds:"),
    ("tasks: [sentiment]\nstudents: [embedded]\nsettings:\n  patience: 2\n  seed: 3\n", ":5:", "seed cannot be a setting"),
    ("tasks: [sentiment]\nstudents: [embedded]\nsettings:\n  max_proposal: 2\n", ":4:", "unknown setting 'max_proposal'"),
    ("tasks: [sentiment]\nstudents: [embedded]\nseeds: [1, 1]\n", ":3:", "lists a value twice"),
    ("tasks: [sentiment]\nstudents: [embedded]\nreflection: 'nosuch:thing'\n", ":3:", "Unknown"),
    ("tasks: [sentiment]\nstudents: [embedded]\nbudget: 0\n", "", "budget must be a whole number"),
    ("tasks: [sentiment]\n", "", "no students"),
    ("tasks: [sentiment\n", ":2:", "not valid YAML"),
])
def test_study_file_errors_say_where(tmp_path: Path, text: str, where: str, words: str) -> None:
    path = study_file(tmp_path, text)
    message = error_of(path)
    assert f"{path}{where}" in message and words in message


def test_decode_axis_follows_what_optimize_supports(tmp_path: Path) -> None:
    path = study_file(tmp_path, "tasks: [sentiment]\nstudents: [embedded]\ndecodes: [free, constrained]\n")
    if "decode" in {f.name for f in fields(OptimizeConfig)}:
        assert len(load_study(path).cells) == 2
    else:
        assert f"{path}:3:" in error_of(path) and "not supported" in error_of(path)


def test_grid_cells_and_names(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "mood.yaml").write_text(
        "name: mood\ndescription: Is the speaker happy or sad?\ninput: sentence\n"
        "labels:\n  happy: The speaker is glad.\n  sad: The speaker is unhappy.\ndata: mood.jsonl\n")
    (tmp_path / "tasks" / "mood.jsonl").write_text(
        "".join(json.dumps({"id": i, "sentence": t, "label": l}) + "\n" for i, (t, l) in
                enumerate([("glad", "happy"), ("sad", "sad")] * 4)))
    path = study_file(tmp_path, (
        "name: grid\ntasks: [sentiment, tasks/mood.yaml]\nstudents: [embedded, 'lmstudio:smollm2-1.7b-instruct']\n"
        f"reflections: [fewshot, 'cmd:\"{sys.executable} -c pass --a-long-argument-to-shorten\"']\nseeds: [0, 1]\nbudget: 30\n"
        "settings:\n  max_proposals: 3\n  eval_every_proposal: true\n"))
    study = load_study(path)
    assert len(study.cells) == 2 * 2 * 2 * 2
    names = [c.name for c in study.cells]
    assert len(set(names)) == len(names)
    assert names[0] == "sentiment__embedded__fewshot__seed0"
    assert all(len(part) <= 40 for name in names for part in name.split("__"))
    mood = [c for c in study.cells if c.values["task"].endswith("mood.yaml")]
    assert mood and Path(mood[0].config.task) == (tmp_path / "tasks" / "mood.yaml").resolve()
    assert all(c.config.budget == 30 and c.config.max_proposals == 3 and c.config.eval_every_proposal
               for c in study.cells)


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("study-*.yaml")))
def test_example_study_files_are_valid(example: Path) -> None:
    study = load_study(example)
    assert study.cells and all(c.config.eval_every_proposal for c in study.cells)


def test_a_cell_run_with_other_settings_is_not_mixed_in(tmp_path: Path) -> None:
    study = load_study(study_file(tmp_path, "tasks: [sentiment]\nstudents: [embedded]\nbudget: 30\n"))
    cell = study.cells[0]
    run_dir = tmp_path / "out" / "cells" / cell.name
    RunDir(run_dir).prepare(resume=False)
    RunDir(run_dir).write_config(cell.config.with_changes(run_dir=str(run_dir)).to_json(), {})
    assert cell_state(run_dir, cell) == "partial"
    RunDir(run_dir).write_config(cell.config.with_changes(run_dir=str(run_dir), minibatch_size=5).to_json(), {})
    with pytest.raises(SmolgepaError, match="minibatch_size: saved 5, study 3"):
        cell_state(run_dir, cell)


def test_failed_cells_are_recorded_and_reported(tmp_path: Path) -> None:
    """A user error in one cell (here: its task data vanished) is recorded; the study goes on and reports."""
    (tmp_path / "mood.yaml").write_text(
        "name: mood\ndescription: Is the speaker happy or sad?\ninput: sentence\n"
        "labels:\n  happy: The speaker is glad.\n  sad: The speaker is unhappy.\ndata: mood.jsonl\n")
    (tmp_path / "mood.jsonl").write_text(
        "".join(json.dumps({"id": i, "sentence": t, "label": l}) + "\n" for i, (t, l) in
                enumerate([("glad", "happy"), ("sad", "sad")] * 4)))
    study = load_study(study_file(tmp_path, "name: broken\ntasks: [mood.yaml]\nstudents: [embedded]\nseeds: [0, 1]\n"))
    (tmp_path / "mood.jsonl").unlink()
    lines: list[str] = []
    result = run_study(study, tmp_path / "out", progress=lines.append)
    assert [c.status for c in result.cells] == ["failed", "failed"]
    assert all("mood.jsonl" in (c.error or "") for c in result.cells)
    manifest = read_manifest(tmp_path / "out")
    assert manifest is not None and all("mood.jsonl" in (c.error or "") for c in manifest.cells)
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "Runs without a result" in markdown and "mood.jsonl" in markdown
    assert (tmp_path / "out" / "report.html").is_file()


STUDY = """name: tiny
tasks: [sentiment]
students: [embedded]
reflection: fewshot
seeds: [0, 1]
budget: 20
settings:
  max_proposals: 1
  eval_every_proposal: true
"""


@pytest.mark.slow
def test_study_killed_mid_cell_resumes_and_skips_finished_cells(tmp_path: Path) -> None:
    path = study_file(tmp_path, STUDY)
    out = tmp_path / "out"
    command = [*SMOLGEPA, "study", str(path), "--out", str(out)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    seen: list[str] = []
    deadline = time.monotonic() + 1500
    assert process.stderr is not None
    for line in process.stderr:
        seen.append(line)
        if line.startswith("[2/2]") and "seed instruction: val" in line:
            os.killpg(process.pid, signal.SIGKILL)
            break
        assert time.monotonic() < deadline, "the study took too long"
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)[-3000:]
    assert any("[1/2] sentiment__embedded__seed0: finished" in line for line in seen)
    assert not (out / "report.html").exists()

    again = subprocess.run(command, capture_output=True, text=True, timeout=1500)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "[1/2] sentiment__embedded__seed0: finished earlier, skipped" in again.stderr
    assert "[2/2] sentiment__embedded__seed1: resuming" in again.stderr
    for cell in ("sentiment__embedded__seed0", "sentiment__embedded__seed1"):
        summary = RunDir(out / "cells" / cell).read_summary()
        assert summary["status"] == "finished" and summary["test"]["best"]["n"] == 6
    resumed = RunDir(out / "cells" / "sentiment__embedded__seed1").read_summary()
    assert resumed["calls"]["student"]["cached"] >= resumed["seed"]["val"]["n"], "the seed evaluation was redone"
    markdown = (out / "report.md").read_text()
    for cell in ("seed 0", "seed 1"):
        assert f"## sentiment × embedded, {cell}" in markdown
    assert "Round 1" in markdown and (out / "report.html").is_file()

    third = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-3000:]
    assert [c["status"] for c in json.loads(third.stdout)["cells"]] == ["skipped", "skipped"]
