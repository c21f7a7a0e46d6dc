"""The compact forms of an evaluation kept in events and summaries, and the line printed when an
iteration ends (the iteration's record is `smolgepa.runrecord.Iteration`)."""

from __future__ import annotations

from typing import Any

from smolgepa.evaluation.evaluate import EvalReport
from smolgepa.formatting import score_text
from smolgepa.runrecord import Evaluation, Iteration, recorded_example
from smolgepa.evaluation.stats import format_accuracy


def normalize(text: str) -> str:
    """Whitespace-insensitive form of an instruction, for finding duplicates."""
    return " ".join(text.split())


def evaluation_of(report: EvalReport) -> Evaluation:
    """The compact form of an evaluation kept in summaries and tables."""
    return Evaluation(
        n=report.n,
        correct=report.correct,
        accuracy=report.accuracy,
        ci95=report.ci95,
        text=format_accuracy(report.correct, report.n),
        distribution=report.predicted_distribution(),
        unparsed=report.unparsed,
        decode=report.decode_text,
        findings=tuple(report.diagnostics.summary_lines()),
    )


def report_summary(report: EvalReport) -> dict[str, Any]:
    """`evaluation_of(report)` as JSON."""
    return evaluation_of(report).to_json()


def report_examples(report: EvalReport) -> list[dict[str, Any]]:
    """Every prediction of an evaluation as events keep it."""
    return [recorded_example(p) for p in report.predictions]


def progress_line(record: Iteration, used: int, budget: int) -> str:
    """The one line printed when an iteration ends."""
    parts = [f"iteration {record.iteration}: {record.status}"]
    if record.before is not None and record.after is not None:
        parts.append(f"minibatch {score_text(record.before)} -> {score_text(record.after)}")
    if record.val:
        parts.append(f"val {record.val.text}" + (" (new best)" if record.new_best else ""))
    if record.status not in ("accepted", "rejected") and record.reason or record.evidence:
        parts.append(record.reason)
    parts.append(f"[{used}/{budget} metric calls]")
    return ", ".join(parts)
