"""The study's renders axis: each cell runs the real embedded student on its own rendering of the
traces, and the study report shows which rendering won, per label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.optimize.run import task_fingerprint
from smolgepa.studies.study_file import load_study
from smolgepa.studies.study_run import run_study
from smolgepa.tasks import load_task

STUDY = """name: renders
tasks: [agent_monitor]
students: [{student}]
reflection: rules
decode: scored
renders: [plain, summary]
budget: 6
settings:
  max_proposals: 1
"""


def study_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text,words", [
    ("tasks: [agent_monitor]\nstudents: [embedded]\nrenders: [plain, fancy]\n", "unknown rendering 'fancy'"),
    ("tasks: [agent_monitor, sentiment]\nstudents: [embedded]\nrenders: [plain, summary]\n", "sentiment has text inputs"),
    ("tasks: [agent_monitor]\nstudents: [embedded]\nrender: summary\nrenders: [plain]\n", "either render: or renders:"),
])
def test_renders_axis_errors_say_where(tmp_path: Path, text: str, words: str) -> None:
    path = study_file(tmp_path, text)
    with pytest.raises(SmolgepaError) as caught:
        load_study(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_renders_axis_makes_one_cell_per_rendering(tmp_path: Path) -> None:
    study = load_study(study_file(tmp_path, STUDY.format(student="embedded")))
    assert "render" in study.axes
    assert [(c.name, c.config.render) for c in study.cells] == [
        ("agent_monitor__embedded__plain__seed0", "plain"), ("agent_monitor__embedded__summary__seed0", "summary")]


@pytest.mark.slow
def test_study_over_renders_runs_each_rendering_and_reports_the_winner_per_label(
        tmp_path: Path, embedded_spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOLGEPA_CACHE_DIR", str(tmp_path / "cache"))
    study = load_study(study_file(tmp_path, STUDY.format(student=embedded_spec)))
    result = run_study(study, out=tmp_path / "out")
    assert not result.failed, result.failed
    for cell in study.cells:
        saved = json.loads((tmp_path / "out" / "cells" / cell.name / "config.json").read_text())
        # the run's task was loaded with the cell's rendering (the fingerprint covers every input)
        assert saved["task_fingerprint"] == task_fingerprint(load_task("agent_monitor", render=cell.config.render))
    fingerprints = {json.loads((tmp_path / "out/cells" / c.name / "config.json").read_text())["task_fingerprint"]
                    for c in study.cells}
    assert len(fingerprints) == 2
    markdown = result.markdown.read_text() if result.markdown else ""
    section = markdown.split("Which rendering won, per label", 1)[1].split("\n## ", 1)[0]
    header = next(line for line in section.splitlines() if line.startswith("| label"))
    assert [c.strip() for c in header.strip("|").split("|")] == ["label", "plain", "summary", "won"]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| ") and "---" not in line}
    for label in [*load_task("agent_monitor").labels, "all"]:
        assert "95% CI" in rows[label], rows
        assert rows[label].rstrip(" |").split("|")[-1].strip() in {"plain", "summary", "plain, summary"}
    assert "(4/4" in rows["all"] or "/4," in rows["all"]  # test split: 4 traces per rendering
