"""`smolgepa baseline`: the rule detector reported with the same figures and JSON keys as `eval`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from smolgepa.evaluation.baselines import rule_report
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


def baseline_json(*args: str) -> dict:
    """`smolgepa baseline --task agent_monitor ARGS --json`, run as a user would; its JSON."""
    result = subprocess.run(
        [sys.executable, "-m", "smolgepa.cli", "baseline", "--task", "agent_monitor", *args, "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_baseline_json_has_eval_keys() -> None:
    data = baseline_json("--split", "all")
    assert {"task", "student", "split", "n", "accuracy", "ci95", "per_label", "confusion",
            "predicted_distribution", "unparsed", "examples"} <= set(data)
    assert data["student"] == "rules" and data["n"] == 16


def test_baseline_refuses_text_task() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smolgepa.cli", "baseline", "--task", "sentiment"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "reads agent traces" in result.stderr


@pytest.mark.slow
def test_evidence_and_decision_list_baselines_are_fitted_on_train_and_reported_like_eval() -> None:
    from smolgepa.evaluation.baselines import fitted_report
    from smolgepa.traces.figures import figures
    from smolgepa.traces.rules import fit_rules
    from smolgepa.traces.shallow import fit_figures_cv

    task = load_task("agent_monitor-extended")
    train = [(ex.raw, ex.label) for ex in task.split("train")]
    test = task.split("test")
    evidence = fitted_report("agent_monitor-extended", "test", "evidence")
    model = fit_figures_cv(train)
    assert [p.predicted for p in evidence.predictions] == model.predict([ex.raw for ex in test])
    rules = fit_rules([(figures(t), y) for t, y in train], list(task.labels))
    listed = fitted_report("agent_monitor-extended", "test", "decision-list")
    assert [p.predicted for p in listed.predictions] == [rules.predict(figures(ex.raw)) for ex in test]
    for report in (evidence, listed):
        assert report.n == 120 and set(report.per_label()) == set(task.labels)
        assert report.accuracy > 0.5  # the counts carry most of the signal; chance is 25%


def test_baseline_cli_prints_the_evidence_method() -> None:
    data = baseline_json("--method", "evidence")
    assert data["student"] == "evidence" and data["n"] == 4 and "per_label" in data


@pytest.mark.parametrize("method", ["rules", "evidence", "decision-list"])
def test_baseline_prints_its_report_as_text(method: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smolgepa.cli", "baseline", "--task", "agent_monitor", "--method", method],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"none ({method})" in result.stdout and "95% CI" in result.stdout
