"""The journal of a run: listens to GEPA, records every proposal, decides when to stop.

It is a GEPA callback (the `on_*` methods) and a GEPA stopper (`should_stop`). Proposers report
to it what they proposed or why they failed. At the end of each iteration it appends the
iteration's record to events.jsonl and rewrites summary.json. A resumed run replays from the
start with every student and reflection call served from the run directory's caches, so it
reaches exactly the same state; records already in events.jsonl are not written twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from smolgepa.diagnostics import Diagnostics, capacity_verdict
from smolgepa.evaluation import EvalReport
from smolgepa.optimize.config import OFFLINE_PROPOSERS
from smolgepa.optimize.cache import instruction_hash
from smolgepa.optimize.rundir import JsonlAppender, RunDir, read_jsonl
from smolgepa.parts import changed_parts
from smolgepa.stats import format_accuracy
from smolgepa.tasks.model import Example

MAX_CONSECUTIVE_REFLECTION_FAILURES = 5
MAX_CONSECUTIVE_EXHAUSTED = 3  # a built-in proposer found nothing new this many times in a row
RAW_KEPT = 20_000  # characters of a reflection answer kept in the iteration record

Evaluator = Callable[[str], EvalReport]


def normalize(text: str) -> str:
    """Whitespace-insensitive form of an instruction, for finding duplicates."""
    return " ".join(text.split())


def report_summary(report: EvalReport) -> dict[str, Any]:
    """The compact form of an evaluation kept in summaries and tables."""
    low, high = report.ci95
    return {
        "n": report.n,
        "correct": report.correct,
        "accuracy": report.accuracy,
        "ci95": [low, high],
        "text": format_accuracy(report.correct, report.n),
        "distribution": report.predicted_distribution(),
        "unparsed": report.unparsed,
        "decode": report.decode_text,
        "findings": report.diagnostics.summary_lines(),
    }


def report_examples(report: EvalReport) -> list[dict[str, Any]]:
    return [
        {"id": p.id, "label": p.label, "predicted": p.predicted, "raw": p.raw, "parse_method": p.parse_method}
        for p in report.predictions
    ]


@dataclass
class IterationRecord:
    """One GEPA iteration: the proposal it made (or why none), its scores and its fate."""

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
    parts: list[str] = field(default_factory=list)  # which parts of the parent it changed (smolgepa.parts)
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


def _guard(method: Callable[..., None]) -> Callable[..., None]:
    """GEPA swallows callback exceptions; keep the first one and stop the run instead."""

    def wrapper(self: Journal, event: Any) -> None:
        if self.fatal is not None:
            return
        try:
            method(self, event)
        except Exception as exc:  # noqa: BLE001
            self.fatal = exc

    wrapper.__name__ = method.__name__
    return wrapper


class Journal:
    """Run bookkeeping shared by GEPA (callbacks, stopper) and the proposers."""

    def __init__(
        self,
        run_dir: RunDir,
        *,
        budget: int,
        max_proposals: int | None,
        patience: int | None,
        eval_every_proposal: bool,
        train: Sequence[Example],
        evaluate_val: Evaluator,
        count_tokens: Callable[[str], int],
        progress: Callable[[str], None] | None = None,
        student_failure: Callable[[], BaseException | None] = lambda: None,
    ) -> None:
        self.run_dir = run_dir
        self.budget = budget
        self.max_proposals = max_proposals
        self.patience = patience
        self.eval_every_proposal = eval_every_proposal
        self.train = list(train)
        self.evaluate_val = evaluate_val
        self.count_tokens = count_tokens
        self.progress = progress or (lambda message: None)
        self.student_failure = student_failure

        self.reports: dict[str, EvalReport] = {}
        self.candidates: list[dict[str, Any]] = []
        self.iterations: list[IterationRecord] = []
        self.current: IterationRecord | None = None
        self.seen: dict[str, int] = {}  # normalized instruction -> iteration that introduced it (0: seed)
        self.seed: dict[str, Any] | None = None
        self.best_idx = 0
        self.extra_metric_calls = 0
        self.metric_calls = 0
        self.since_improvement = 0
        self.consecutive_reflection_failures = 0
        self.consecutive_exhausted = 0
        self.exhausted_proposer = "fewshot"
        self.stop_reason: str | None = None
        self.fatal: BaseException | None = None
        self.interrupted = False  # set by the signal handler: the current iteration is not recorded
        self.pareto_front: list[int] = []
        self.started = time.monotonic()

        existing = read_jsonl(run_dir.events_file)
        self.recorded = {e["iteration"]: e for e in existing if e.get("event") == "iteration"}
        self.seed_recorded = any(e.get("event") == "seed_evaluated" for e in existing)
        self.events = JsonlAppender(run_dir.events_file, run_dir.redact)

    # ------------------------------------------------------------------ events and summary

    def emit(self, event: str, **data: Any) -> None:
        self.events.append({"event": event, "time": time.time(), **data})

    def diagnostics_for(self, instruction: str) -> Diagnostics | None:
        report = self.reports.get(instruction_hash(instruction))
        return report.diagnostics if report else None

    def report_for(self, instruction: str) -> EvalReport | None:
        return self.reports.get(instruction_hash(instruction))

    @property
    def proposals(self) -> int:
        return sum(record.is_proposal for record in self.iterations)

    @property
    def best(self) -> dict[str, Any]:
        return self.candidates[self.best_idx]

    def _evaluate(self, instruction: str) -> EvalReport:
        sha = instruction_hash(instruction)
        if sha not in self.reports:
            self.reports[sha] = self.evaluate_val(instruction)
        return self.reports[sha]

    # ------------------------------------------------------------------ proposers report here

    def proposal_made(self, text: str, tokens: int, proposer: str, **details: Any) -> None:
        """A proposal passed the checks and will be evaluated."""
        record = self._record()
        record.text, record.tokens, record.proposer = text, tokens, proposer
        record.instruction_sha = instruction_hash(text)
        record.move = details.get("move")
        record.reflection = details.get("reflection")
        if details.get("parent") is not None:
            record.parts = changed_parts(details["parent"], text)
        self.seen.setdefault(normalize(text), record.iteration)
        if proposer not in OFFLINE_PROPOSERS:
            self.consecutive_reflection_failures = 0

    def proposal_failed(self, status: str, reason: str, proposer: str, text: str | None = None,
                        tokens: int | None = None, **details: Any) -> None:
        """No proposal to evaluate this iteration: reflection failed, or the text was refused."""
        record = self._record()
        record.status, record.reason, record.proposer = status, reason, proposer
        record.text, record.tokens = text, tokens
        record.instruction_sha = instruction_hash(text) if text else None
        record.reflection = details.get("reflection")
        record.move = details.get("move")
        if status == "failed":
            self.consecutive_reflection_failures += 1
        elif proposer not in OFFLINE_PROPOSERS:
            self.consecutive_reflection_failures = 0

    def duplicate_of(self, text: str) -> int | None:
        """The iteration (0: the seed) whose instruction is the same text, if any."""
        return self.seen.get(normalize(text))

    def _record(self) -> IterationRecord:
        if self.current is None:  # a proposer called outside an iteration (direct use)
            self.current = IterationRecord(iteration=len(self.iterations) + 1)
        return self.current

    # ------------------------------------------------------------------ GEPA callbacks

    @_guard
    def on_valset_evaluated(self, event: Any) -> None:
        instruction = next(iter(event["candidate"].values()))
        report = self._evaluate(instruction)
        index = event["candidate_idx"]
        candidate = {
            "idx": index,
            "parent": (list(event["parent_ids"]) or [None])[0],
            "iteration": event["iteration"],
            "instruction": instruction,
            "instruction_sha": instruction_hash(instruction),
            "tokens": self.count_tokens(instruction),
            "val": report_summary(report),
        }
        while len(self.candidates) <= index:
            self.candidates.append({})
        self.candidates[index] = candidate
        if index == 0:
            self.seen.setdefault(normalize(instruction), 0)
            self.seed = candidate
            if not self.seed_recorded:
                self.emit("seed_evaluated", candidate=candidate, val_examples=report_examples(report))
                self.seed_recorded = True
            self.progress(f"seed instruction: val {candidate['val']['text']}")
            self.write_summary("running")
            return
        record = self._record()
        record.candidate_idx = index
        record.val = candidate["val"]
        record.val_examples = report_examples(report)
        if report.correct > self.candidates[self.best_idx]["val"]["correct"]:
            self.best_idx = index
            record.new_best = True
            self.since_improvement = -1  # this proposal improved: reset after counting it
            self.run_dir.write_text(self.run_dir.best_instruction_file, instruction + "\n")

    @_guard
    def on_iteration_start(self, event: Any) -> None:
        self.current = IterationRecord(iteration=event["iteration"], started=time.monotonic())

    @_guard
    def on_candidate_selected(self, event: Any) -> None:
        record = self._record()
        record.parent = event["candidate_idx"]
        record.parent_sha = instruction_hash(next(iter(event["candidate"].values())))

    @_guard
    def on_minibatch_sampled(self, event: Any) -> None:
        self._record().minibatch_ids = [self.train[i].id for i in event["minibatch_ids"]]

    @_guard
    def on_evaluation_end(self, event: Any) -> None:
        record = self._record()
        if event["candidate_idx"] is not None:
            record.before = list(event["scores"])
        else:
            record.after = list(event["scores"])

    @_guard
    def on_evaluation_skipped(self, event: Any) -> None:
        record = self._record()
        record.status = "skipped"
        record.before = list(event.get("scores") or []) or record.before
        record.reason = {
            "all_scores_perfect": "every minibatch answer already correct: nothing to reflect on",
            "no_trajectories": "no traces captured for the minibatch",
        }.get(event["reason"], event["reason"])

    @_guard
    def on_candidate_accepted(self, event: Any) -> None:
        record = self._record()
        record.status = "accepted"
        record.reason = f"minibatch {_score(record.before)} -> {_score(record.after)}: better, so evaluated on val"

    @_guard
    def on_candidate_rejected(self, event: Any) -> None:
        record = self._record()
        record.status = "rejected"
        record.reason = f"minibatch {_score(record.before)} -> {_score(record.after)}: not better"
        if self.eval_every_proposal and record.text:
            report = self._evaluate(record.text)
            self.extra_metric_calls += report.n
            record.val = report_summary(report)
            record.val_examples = report_examples(report)

    @_guard
    def on_iteration_end(self, event: Any) -> None:
        record = self._record()
        self.current = None
        if self.student_failure() is not None or self.interrupted:
            return  # scores of this iteration are not real answers: nothing is recorded, resume redoes it
        if record.status is None:
            record.status, record.reason = "failed", "the proposer returned nothing"
        state = event["state"]
        self.metric_calls = state.total_num_evals
        record.metric_calls = self.metric_calls + self.extra_metric_calls
        earlier = self.recorded.get(record.iteration)
        record.seconds = earlier["seconds"] if earlier else round(time.monotonic() - record.started, 3)
        self.iterations.append(record)
        if record.is_proposal:
            self.since_improvement += 1
            self.consecutive_exhausted = self.consecutive_exhausted + 1 if record.status == "exhausted" else 0
            if record.status == "exhausted":
                self.exhausted_proposer = record.proposer or self.exhausted_proposer
        if earlier is None:
            self.emit("iteration", **record.to_json())
            self.recorded[record.iteration] = {"seconds": record.seconds}
        self.progress(_progress_line(record, self.metric_calls + self.extra_metric_calls, self.budget))
        self.write_summary("running")

    @_guard
    def on_optimization_end(self, event: Any) -> None:
        state = event["final_state"]
        self.metric_calls = state.total_num_evals
        front: set[int] = set()
        for programs in state.program_at_pareto_front_valset.values():
            front.update(programs)
        self.pareto_front = sorted(front)

    # ------------------------------------------------------------------ stopping

    def should_stop(self, state: Any) -> bool:
        """GEPA's stop check, run before every iteration."""
        failure = self.fatal or self.student_failure()
        if failure is not None:
            self.stop_reason = self.stop_reason or f"error: {failure}"
            return True
        used = state.total_num_evals + self.extra_metric_calls
        reason = None
        if used >= self.budget:
            reason = f"budget used: {used} metric calls of {self.budget}"
        elif self.max_proposals is not None and self.proposals >= self.max_proposals:
            reason = f"maximum proposals reached ({self.max_proposals})"
        elif self.patience is not None and self.since_improvement >= self.patience:
            reason = f"patience: {self.since_improvement} proposals without a validation improvement"
        elif self.consecutive_reflection_failures >= MAX_CONSECUTIVE_REFLECTION_FAILURES:
            reason = f"{self.consecutive_reflection_failures} reflection calls failed in a row"
        elif self.consecutive_exhausted >= MAX_CONSECUTIVE_EXHAUSTED:
            reason = (f"the {self.exhausted_proposer} proposer found no new move "
                      f"{self.consecutive_exhausted} times in a row")
        if reason:
            self.stop_reason = reason
        return reason is not None

    __call__ = should_stop  # GEPA's StopperProtocol

    # ------------------------------------------------------------------ summary

    def summary(self, status: str, **extra: Any) -> dict[str, Any]:
        seed_report = self.report_for(self.seed["instruction"]) if self.seed else None
        named = [("seed", seed_report.diagnostics)] if seed_report else []
        for record in self.iterations:
            report = self.report_for(record.text) if record.text else None
            if report is not None:
                named.append((f"iteration {record.iteration}", report.diagnostics))
        verdict = capacity_verdict(named)
        if len(named) < 2:  # one instruction says nothing about whether prompts can help
            verdict = type(verdict)(False, "only the seed instruction was evaluated on validation; "
                                    "run with --eval-every-proposal to judge capacity", verdict.evidence)
        return {
            "status": status,
            "stop_reason": self.stop_reason,
            "seed": self.seed,
            "best": self.candidates[self.best_idx] if self.candidates else None,
            "iterations": [record.to_json(with_examples=False) for record in self.iterations],
            "candidates": [c for c in self.candidates if c],
            "pareto_front": self.pareto_front,
            "counts": {
                "metric_calls": self.metric_calls + self.extra_metric_calls,
                "gepa_metric_calls": self.metric_calls,
                "extra_metric_calls": self.extra_metric_calls,
                "budget": self.budget,
                "proposals": self.proposals,
                "iterations": len(self.iterations),
            },
            "capacity": {"capacity_problem": verdict.capacity_problem, "text": verdict.text,
                         "evidence": verdict.evidence},
            **extra,
        }

    def write_summary(self, status: str, **extra: Any) -> None:
        self.run_dir.write_summary(self.summary(status, **extra, **self.summary_extra()))

    def summary_extra(self) -> dict[str, Any]:
        """Filled in by the run (configuration, call counters, test results)."""
        return {}


def _score(scores: list[float] | None) -> str:
    if scores is None:
        return "?"
    return f"{sum(scores):g}/{len(scores)}"


def _progress_line(record: IterationRecord, used: int, budget: int) -> str:
    parts = [f"iteration {record.iteration}: {record.status}"]
    if record.before is not None and record.after is not None:
        parts.append(f"minibatch {_score(record.before)} -> {_score(record.after)}")
    if record.val:
        parts.append(f"val {record.val['text']}" + (" (new best)" if record.new_best else ""))
    if record.status not in ("accepted", "rejected") and record.reason:
        parts.append(record.reason)
    parts.append(f"[{used}/{budget} metric calls]")
    return ", ".join(parts)
