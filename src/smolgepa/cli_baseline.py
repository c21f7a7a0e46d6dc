"""`smolgepa baseline`: the rule-based agent-stuck detector, reported like `eval`."""

from __future__ import annotations

import argparse

from smolgepa.errors import SmolgepaError

RULES_STUDENT = "rules"
RULES_INSTRUCTION = "(rule-based detector: OpenHands StuckDetector + OpenCode doom-loop rules)"


def rule_report(task_name: str, split: str, render: str | None = None):  # noqa: ANN201 - EvalReport
    """Evaluate the rule-based detector on a trace task split, as an EvalReport."""
    from smolgepa.evaluation import Prediction, report_from_predictions
    from smolgepa.tasks import load_task
    from smolgepa.traces.detector import rule_predictions

    task = load_task(task_name, render=render)
    if task.input_format != "trace":
        raise SmolgepaError(
            f"Task {task.name!r} has text inputs; the rule-based detector reads agent traces "
            "(a task with input_format: trace, e.g. agent_monitor)."
        )
    predictions = [
        Prediction(id=ex.id, input=ex.input, label=ex.label, predicted=label, raw=reason, parse_method="rules")
        for ex, label, reason in rule_predictions(task, split)
    ]
    return report_from_predictions(
        task, predictions, RULES_INSTRUCTION, student=RULES_STUDENT, split=split, decode="none (rules)"
    )


def cmd_baseline(args: argparse.Namespace) -> None:
    from smolgepa.cli import print_json
    from smolgepa.display import render_report

    report = rule_report(args.task, args.split)
    print_json(report.to_json()) if args.json else print(render_report(report))


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `baseline` subcommand."""
    parser = commands.add_parser("baseline", help="rule-based agent-stuck detector on a trace task")
    parser.add_argument("--task", required=True, help="a trace task: built-in name or YAML path")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    parser.add_argument("--json", action="store_true", help="print one JSON object (same keys as eval)")
    parser.set_defaults(func=cmd_baseline)
