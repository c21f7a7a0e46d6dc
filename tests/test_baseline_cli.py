"""`smolgepa baseline`: the rule detector reported with the same figures and JSON keys as `eval`."""

from __future__ import annotations

import json
import subprocess
import sys

from smolgepa.cli_baseline import rule_report
from smolgepa.tasks import load_task
from smolgepa.traces.detector import detect_state


def test_rule_report_matches_detector_on_every_example() -> None:
    report = rule_report("agent_monitor", "all")
    task = load_task("agent_monitor")
    assert report.n == len(task.examples) == 16
    by_id = {ex.id: ex for ex in task.examples}
    for prediction in report.predictions:
        label, reason = detect_state(by_id[prediction.id].raw)
        assert (prediction.predicted, prediction.raw) == (label, reason)
    assert report.correct == sum(p.predicted == p.label for p in report.predictions)


def test_baseline_json_has_eval_keys() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smolgepa.cli", "baseline", "--task", "agent_monitor", "--split", "all", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"task", "student", "split", "n", "accuracy", "ci95", "per_label", "confusion",
            "predicted_distribution", "unparsed", "examples"} <= set(data)
    assert data["student"] == "rules" and data["n"] == 16


def test_baseline_refuses_text_task() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smolgepa.cli", "baseline", "--task", "sentiment"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "reads agent traces" in result.stderr
