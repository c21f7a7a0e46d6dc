"""Detectors without a language model on a trace task, reported like `eval` (an EvalReport).

Methods: `rules`, the published agent-stuck detector rules; `evidence`, logistic regression on the
counted evidence figures; `decision-list`, the counting rules the `rules` proposer writes, applied
mechanically. The last two are fitted on the train split only.
"""

from __future__ import annotations

from smolgepa.errors import SmolgepaError

RULES_STUDENT = "rules"
RULES_INSTRUCTION = "(rule-based detector: OpenHands StuckDetector + OpenCode doom-loop rules)"
METHODS = ("rules", "evidence", "decision-list")


def _trace_task(task_name: str, render: str | None = None):  # noqa: ANN202 - Task
    from smolgepa.tasks import load_task

    task = load_task(task_name, render=render)
    if task.input_format != "trace":
        raise SmolgepaError(
            f"Task {task.name!r} has text inputs; the rule-based detector reads agent traces "
            "(a task with input_format: trace, e.g. agent_monitor)."
        )
    return task


def fitted_report(task_name: str, split: str, method: str):  # noqa: ANN201 - EvalReport
    """Evaluate a detector fitted on train (`evidence` or `decision-list`) on a split, as an EvalReport."""
    from smolgepa.evaluation.evaluate import Prediction, no_reading, report_from_predictions
    from smolgepa.traces.figures import figures
    from smolgepa.traces.rules import fit_rules, rules_text
    from smolgepa.traces.shallow import fit_figures_cv

    task = _trace_task(task_name)
    train = [(ex.raw, ex.label) for ex in task.split("train")]
    if not train:
        raise SmolgepaError(f"Task {task.name!r} has no train examples to fit the {method} baseline on.")
    examples = task.split(split)
    if method == "evidence":
        model = fit_figures_cv(train)
        predicted = model.predict([ex.raw for ex in examples])
        described = f"(logistic regression on evidence figures, fitted on train, l2={model.l2:g})"
    elif method == "decision-list":
        rule_list = fit_rules([(figures(t), y) for t, y in train], list(task.labels))
        predicted = [rule_list.predict(figures(ex.raw)) for ex in examples]
        described = "(counting rules fitted on train, applied mechanically)\n" + rules_text(rule_list)
    else:
        raise SmolgepaError(f"Unknown baseline method {method!r}: use one of {', '.join(METHODS)}.")
    predictions = [
        Prediction(id=ex.id, input=ex.input, label=ex.label, predicted=label,
                   raw=", ".join(f"{k}={v:g}" for k, v in figures(ex.raw).items()), parse_method=method)
        for ex, label in zip(examples, predicted)
    ]
    return report_from_predictions(task, predictions, described, student=method, split=split, decode=no_reading(method))


def rule_report(task_name: str, split: str, render: str | None = None):  # noqa: ANN201 - EvalReport
    """Evaluate the rule-based detector on a trace task split, as an EvalReport."""
    from smolgepa.evaluation.evaluate import Prediction, no_reading, report_from_predictions
    from smolgepa.traces.detector import rule_predictions

    task = _trace_task(task_name, render)
    predictions = [
        Prediction(id=ex.id, input=ex.input, label=ex.label, predicted=label, raw=reason, parse_method="rules")
        for ex, label, reason in rule_predictions(task, split)
    ]
    return report_from_predictions(
        task, predictions, RULES_INSTRUCTION, student=RULES_STUDENT, split=split, decode=no_reading("rules")
    )
