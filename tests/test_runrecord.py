"""The one reader of run records: typed summaries and events, old run directories still read,
newer schema versions refused, and the report reads runs without the optimize package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.formatting import change, minibatch_text, percent
from smolgepa.optimize.tables import render_run
from smolgepa.runrecord import SCHEMA_VERSION, Evaluation, Iteration, parse_events, read_summary

VAL = {"n": 6, "correct": 4, "accuracy": 4 / 6, "ci95": [0.3, 0.903], "text": "66.7% (4/6, 95% CI 30.0-90.3%)"}


def write(path: Path, data: dict) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "summary.json").write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_summary_without_schema_version_reads_with_defaults(tmp_path: Path) -> None:
    """A run directory from before the version (and most fields) existed."""
    run = write(tmp_path / "old", {"status": "finished", "seed": {"idx": 0, "instruction": "Classify.", "val": VAL},
                                   "iterations": [{"iteration": 1, "status": "failed"}]})
    summary = read_summary(run)
    assert summary.schema_version == SCHEMA_VERSION and summary.status == "finished"
    assert summary.seed is not None and summary.seed.val == Evaluation.from_json(VAL)
    assert summary.best is None and summary.counts.budget is None and summary.calls.student is None
    assert summary.iterations[0].before is None and summary.test == {}
    text = render_run(summary)
    assert "| seed | -      | seed   | -         | 66.7% (4/6, 95% CI 30.0-90.3%)" in text
    assert "budget of ?" in text and "Student calls" not in text


def test_a_newer_schema_version_is_refused(tmp_path: Path) -> None:
    run = write(tmp_path / "new", {"schema_version": SCHEMA_VERSION + 1, "status": "finished"})
    with pytest.raises(SmolgepaError, match="schema_version 2; this smolgepa reads version 1"):
        read_summary(run)


def test_events_become_typed_predictions_with_their_inputs() -> None:
    example = {"id": "v1", "label": "positive", "predicted": None, "raw": "hm", "parse_method": "none"}
    events = parse_events([
        {"event": "run_started", "config": {}},
        {"event": "seed_evaluated", "candidate": {"idx": 0, "instruction": "Classify.", "val": VAL},
         "val_examples": [example]},
        {"event": "iteration", "iteration": 1, "candidate_idx": 1, "val": VAL, "val_examples": [example]},
        {"event": "test_evaluated", "which": "best", "candidate": 1, "result": VAL, "examples": [example]},
    ], inputs={"v1": "I like it."})
    assert events.seed is not None and events.seed.val_examples[0].input == "I like it."
    assert events.seed.val_examples[0].correct is False and events.seed.val_examples[0].parse_method == "none"
    assert events.of_candidate(1) is events.iteration(1) and events.tests["best"].result.n == 6  # type: ignore[union-attr]


def test_formatting_of_changes_and_minibatches() -> None:
    before, after = Evaluation(n=6, correct=3, accuracy=0.5), Evaluation(n=6, correct=4, accuracy=4 / 6)
    assert (change(before, after), change(after, after), change(None, after)) == ("+16.7 pts", "no change", "-")
    assert (percent(after), percent(Evaluation())) == ("66.7%", "-")
    assert minibatch_text(Iteration(1, before=(1.0, 0.0, 0.0), after=(1.0, 1.0, 0.0))) == "1/3 -> 2/3"
    assert minibatch_text(Iteration(1)) == "-"


def test_the_report_reads_runs_without_importing_the_optimizer() -> None:
    code = "import sys, smolgepa.report; print(sorted(m for m in sys.modules if m.startswith('smolgepa.optimize')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
