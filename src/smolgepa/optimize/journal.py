"""The journal of a run: listens to GEPA and hears from the proposers.

It is a GEPA callback (the `on_*` methods) and a GEPA stopper (`should_stop`). Proposers report to it
what they proposed or why they failed. It hands the work to its parts: the event recorder
(events.jsonl, smolgepa.optimize.recorder), the stopping rules (stopping.py), the best-candidate
tracker (candidates.py) and the summary (summary.py), rewritten at the end of every iteration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from smolgepa.evaluation.diagnostics import Diagnostics
from smolgepa.evaluation.evaluate import EvalReport
from smolgepa.optimize.cache import instruction_hash
from smolgepa.optimize.candidates import BestTracker, Evaluator
from smolgepa.optimize.iteration import (  # noqa: F401 - re-exported: the run's records, by their old home
    evaluation_of,
    normalize,
    progress_line,
    report_examples,
    report_summary,
)
from smolgepa.optimize.recorder import EventRecorder
from smolgepa.optimize.rundir import RunDir
from smolgepa.optimize.stopping import StopRules
from smolgepa.optimize.run_summary import RunFacts, build_summary
from smolgepa.candidate.candidate_parts import changed_parts
from smolgepa.progress import Progress, as_progress
from smolgepa.formatting import score_text
from smolgepa.runrecord import Candidate
from smolgepa.runrecord import Iteration as IterationRecord
from smolgepa.tasks.model import Example

RAW_KEPT = 20_000  # characters of a reflection answer kept in the iteration record
SKIP_REASONS = {
    "all_scores_perfect": "every minibatch answer already correct: nothing to reflect on",
    "no_trajectories": "no traces captured for the minibatch",
}


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
    """Run bookkeeping shared by GEPA (callbacks, stopper) and the proposers. `facts` is what the
    run adds to the summary (configuration, call counters, test results)."""

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
        progress: Progress | Callable[[str], None] | None = None,
        student_failure: Callable[[], BaseException | None] = lambda: None,
        facts: RunFacts | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.eval_every_proposal = eval_every_proposal
        self.train = list(train)
        self.count_tokens = count_tokens
        self.progress = as_progress(progress)
        self.student_failure = student_failure
        self.facts = facts or RunFacts()
        self.stop_rules = StopRules(budget, max_proposals, patience)
        self.tracker = BestTracker(evaluate_val, count_tokens)
        self.recorder = EventRecorder(run_dir)

        self.iterations: list[IterationRecord] = []
        self.current: IterationRecord | None = None
        self.seen: dict[str, int] = {}  # normalized instruction -> iteration that introduced it (0: seed)
        self.looks: dict[str, int] = {}  # normalized instruction -> minibatches it was judged on, all rejecting it
        self.extra_metric_calls = 0
        self.metric_calls = 0
        self.stop_reason: str | None = None
        self.fatal: BaseException | None = None
        self.interrupted = False  # set by the signal handler: the current iteration is not recorded
        self.pareto_front: list[int] = []
        self.started = time.monotonic()

    # ------------------------------------------------------------------ records

    def emit(self, event: str, **data: Any) -> None:
        self.recorder.emit(event, **data)

    def diagnostics_for(self, instruction: str) -> Diagnostics | None:
        return self.tracker.diagnostics_for(instruction)

    def report_for(self, instruction: str) -> EvalReport | None:
        return self.tracker.report_for(instruction)

    @property
    def seed(self) -> Candidate | None:
        return self.tracker.seed

    @property
    def best(self) -> Candidate:
        return self.tracker.best

    @property
    def proposals(self) -> int:
        return sum(record.is_proposal for record in self.iterations)

    def summary(self, status: str) -> dict[str, Any]:
        return build_summary(self, status, self.facts)

    def write_summary(self, status: str) -> None:
        self.run_dir.write_summary(self.summary(status))

    # ------------------------------------------------------------------ proposers report here

    def proposal_made(self, text: str, tokens: int, proposer: str, **details: Any) -> None:
        """A proposal passed the checks and will be evaluated."""
        record = self._record()
        record.text, record.tokens, record.proposer = text, tokens, proposer
        record.instruction_sha = instruction_hash(text)
        record.move = details.get("move")
        record.reflection = details.get("reflection")
        record.screen = details.get("screen")
        if details.get("parent") is not None:
            record.parts = changed_parts(details["parent"], text)
        self.seen.setdefault(normalize(text), record.iteration)
        self.stop_rules.proposal_made(proposer)

    def proposal_failed(self, status: str, reason: str, proposer: str, text: str | None = None,
                        tokens: int | None = None, **details: Any) -> None:
        """No proposal to evaluate this iteration: reflection failed, or the text was refused."""
        record = self._record()
        record.status, record.reason, record.proposer = status, reason, proposer
        record.text, record.tokens = text, tokens
        record.instruction_sha = instruction_hash(text) if text else None
        record.reflection = details.get("reflection")
        record.move = details.get("move")
        self.stop_rules.proposal_failed(status, proposer)

    def evidence_judged(self, parent: dict[str, Any], option: dict[str, Any], reason: str) -> None:
        """The acceptance rule judged this iteration's structural proposal on the screen's evidence."""
        self._record().evidence = {"parent": parent, "option": option, "reason": reason}

    def duplicate_of(self, text: str) -> int | None:
        """The iteration (0: the seed) whose instruction is the same text, if any."""
        return self.seen.get(normalize(text))

    def rejected_looks(self, text: str) -> int:
        """How many minibatches rejected `text`, when every evaluation of it so far was such a rejection
        (0 for a text accepted, evaluated on validation, or never proposed)."""
        return self.looks.get(normalize(text), 0)

    def _record(self) -> IterationRecord:
        if self.current is None:  # a proposer called outside an iteration (direct use)
            self.current = IterationRecord(iteration=len(self.iterations) + 1)
        return self.current

    # ------------------------------------------------------------------ GEPA callbacks

    @_guard
    def on_valset_evaluated(self, event: Any) -> None:
        instruction = next(iter(event["candidate"].values()))
        index = event["candidate_idx"]
        parent = (list(event["parent_ids"]) or [None])[0]
        candidate, report = self.tracker.add(index, parent, event["iteration"], instruction)
        if index == 0:
            self.seen.setdefault(normalize(instruction), 0)
            self.recorder.seed_evaluated(candidate.to_json(), report_examples(report))
            self.progress.say(f"seed instruction: val {candidate.val.text}")  # type: ignore[union-attr]
            self.progress.update(self.extra_metric_calls + report.n, note=f"best val {_percent(candidate.val)}")
            self.write_summary("running")
            return
        record = self._record()
        record.candidate_idx = index
        record.val = candidate.val
        record.val_examples = report_examples(report)
        if self.tracker.take_if_better(index, report):
            record.new_best = True
            self.stop_rules.improved()
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
        record.reason = SKIP_REASONS.get(event["reason"], event["reason"])

    @_guard
    def on_candidate_accepted(self, event: Any) -> None:
        record = self._record()
        record.status = "accepted"
        record.reason = f"minibatch {score_text(record.before)} -> {score_text(record.after)}: better, so evaluated on val"
        if record.evidence:
            record.reason = record.evidence["reason"]
        if record.text:
            self.looks.pop(normalize(record.text), None)

    @_guard
    def on_candidate_rejected(self, event: Any) -> None:
        record = self._record()
        record.status = "rejected"
        record.reason = f"minibatch {score_text(record.before)} -> {score_text(record.after)}: not better"
        if record.evidence:
            record.reason = record.evidence["reason"]
        if self.eval_every_proposal and record.text:
            report = self.tracker.evaluate(record.text)
            self.extra_metric_calls += report.n
            record.val = evaluation_of(report)
            record.val_examples = report_examples(report)
        elif record.text:
            key = normalize(record.text)
            self.looks[key] = self.looks.get(key, 0) + 1

    @_guard
    def on_iteration_end(self, event: Any) -> None:
        record = self._record()
        self.current = None
        if self.student_failure() is not None or self.interrupted:
            return  # scores of this iteration are not real answers: nothing is recorded, resume redoes it
        if record.status is None:
            record.status, record.reason = "failed", "the proposer returned nothing"
        self.metric_calls = event["state"].total_num_evals
        record.metric_calls = self.metric_calls + self.extra_metric_calls
        earlier = self.recorder.first_seconds(record.iteration)
        record.seconds = earlier if earlier is not None else round(time.monotonic() - record.started, 3)
        self.iterations.append(record)
        self.stop_rules.iteration_recorded(record)
        self.recorder.iteration(record)
        used = self.metric_calls + self.extra_metric_calls
        self.progress.say(progress_line(record, used, self.stop_rules.budget))
        self.progress.update(used, note=self._status_note(record))
        self.write_summary("running")

    @_guard
    def on_optimization_end(self, event: Any) -> None:
        state = event["final_state"]
        self.metric_calls = state.total_num_evals
        self.progress.update(self.metric_calls + self.extra_metric_calls)
        front: set[int] = set()
        for programs in state.program_at_pareto_front_valset.values():
            front.update(programs)
        self.pareto_front = sorted(front)

    def _status_note(self, record: IterationRecord) -> str:
        """What the bar shows beside the budget: the best validation so far and the last proposal's fate."""
        best = self.tracker.best
        return f"best val {_percent(best.val if best else None)}, last proposal {record.status}"

    # ------------------------------------------------------------------ stopping

    def should_stop(self, state: Any) -> bool:
        """GEPA's stop check, run before every iteration."""
        failure = self.fatal or self.student_failure()
        if failure is not None:
            self.stop_reason = self.stop_reason or f"error: {failure}"
            return True
        reason = self.stop_rules.reason(state.total_num_evals + self.extra_metric_calls, self.proposals)
        if reason:
            self.stop_reason = reason
        return reason is not None

    __call__ = should_stop  # GEPA's StopperProtocol


def _percent(evaluation: Any) -> str:
    """`83.3%` of an evaluation (`?` before there is one)."""
    return f"{100 * evaluation.accuracy:.1f}%" if evaluation is not None else "?"
