"""One GEPA iteration's record, and the compact forms of an evaluation kept in events and summaries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from smolgepa.evaluation.evaluate import EvalReport
from smolgepa.formatting import score_text
from smolgepa.runrecord import Evaluation, recorded_example
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


@dataclass
class IterationRecord:
    """One GEPA iteration: the proposal it made (or why none), its scores and its fate
    (written as `runrecord.Iteration` plus `val_examples`)."""

    iteration: int
    parent: int | None = None
    parent_sha: str | None = None
    minibatch_ids: list[str] = field(default_factory=list)
    before: list[float] | None = None
    after: list[float] | None = None
    status: str | None = None  # accepted | rejected | failed | duplicate | too_long | invalid | exhausted | skipped
    reason: str = ""
    text: str | None = None
    instruction_sha: str | None = None
    tokens: int | None = None
    candidate_idx: int | None = None
    val: dict[str, Any] | None = None
    val_examples: list[dict[str, Any]] | None = None
    new_best: bool = False
    proposer: str = ""
    move: str | None = None
    parts: list[str] = field(default_factory=list)  # the parts of the parent it changed (smolgepa.candidate.candidate_parts)
    reflection: dict[str, Any] | None = None
    metric_calls: int = 0  # used by the run when this iteration ended
    seconds: float = 0.0  # wall time of the iteration when it was first run
    started: float = field(default=0.0, repr=False)

    @property
    def is_proposal(self) -> bool:
        """Whether the iteration got as far as asking for a proposal (skipped ones did not)."""
        return self.status not in (None, "skipped")

    def to_json(self, with_examples: bool = True) -> dict[str, Any]:
        data = asdict(self)
        data.pop("started")
        if not with_examples:
            data.pop("val_examples")
            if data.get("reflection"):
                data["reflection"] = {k: v for k, v in data["reflection"].items() if k != "raw"}
        return data


def progress_line(record: IterationRecord, used: int, budget: int) -> str:
    """The one line printed when an iteration ends."""
    parts = [f"iteration {record.iteration}: {record.status}"]
    if record.before is not None and record.after is not None:
        parts.append(f"minibatch {score_text(record.before)} -> {score_text(record.after)}")
    if record.val:
        parts.append(f"val {record.val['text']}" + (" (new best)" if record.new_best else ""))
    if record.status not in ("accepted", "rejected") and record.reason:
        parts.append(record.reason)
    parts.append(f"[{used}/{budget} metric calls]")
    return ", ".join(parts)
