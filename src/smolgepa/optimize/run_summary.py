"""summary.json: the state of a run, rewritten after every iteration: a `smolgepa.runrecord.RunSummary`
(which writes itself with `to_json` and is read back with `from_json`), built from the journal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from smolgepa.evaluation.diagnostics import capacity_verdict
from smolgepa.runrecord import Capacity, Counts, RunSummary


class Journal(Protocol):
    """What a summary reads of the run's journal (`smolgepa.optimize.journal.Journal`, which imports
    this module: the summary does not import it back)."""

    tracker: Any
    iterations: list[Any]
    stop_reason: str | None
    pareto_front: Any
    metric_calls: int
    extra_metric_calls: int
    stop_rules: Any

    @property
    def proposals(self) -> int: ...


@dataclass
class RunFacts:
    """What the run adds to its summary besides the journal's records: its configuration, task,
    proposer, machine, call counters and test results. The run fills it in as it learns them."""

    config: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)
    proposer: str = ""
    proposer_note: str = ""
    token_count: str = ""
    machine: str = ""
    model_file: dict[str, Any] | None = None  # the GGUF file that answers (in-process students)
    calls: Callable[[], dict[str, Any]] = dict
    test: dict[str, Any] = field(default_factory=dict)
    final_pick: dict[str, Any] | None = None  # the pick among the Pareto front (optimize.evidence.final_pick)

    def to_json(self) -> dict[str, Any]:
        if not self.config:  # a journal used on its own (tests, direct use): nothing to add
            return {}
        return {
            "config": self.config,
            "task": self.task,
            "proposer": self.proposer,
            "proposer_note": self.proposer_note,
            "token_count": self.token_count,
            "machine": self.machine,
            **({"model_file": self.model_file} if self.model_file else {}),
            "calls": self.calls(),
            **({"test": self.test} if self.test else {}),
            **({"final_pick": self.final_pick} if self.final_pick else {}),
        }


def _capacity(journal: Journal) -> Capacity:
    """Whether the evaluated instructions point at a capacity problem rather than a prompt problem."""
    tracker = journal.tracker
    seed_report = tracker.report_for(tracker.seed.instruction) if tracker.seed else None
    named = [("seed", seed_report.diagnostics)] if seed_report else []
    for record in journal.iterations:
        report = tracker.report_for(record.text) if record.text else None
        if report is not None:
            named.append((f"iteration {record.iteration}", report.diagnostics))
    verdict = capacity_verdict(named)
    if len(named) < 2:  # one instruction says nothing about whether prompts can help
        verdict = type(verdict)(False, "only the seed instruction was evaluated on validation; "
                                "run with --eval-every-proposal to judge capacity", verdict.evidence)
    return Capacity(verdict.capacity_problem, verdict.text, tuple(verdict.evidence))


def build_summary(journal: Journal, status: str, facts: RunFacts) -> RunSummary:
    """The summary of a run in `status` (running, finished, interrupted, failed)."""
    tracker = journal.tracker
    return replace(
        RunSummary.from_json(facts.to_json()),
        status=status,
        stop_reason=journal.stop_reason,
        seed=tracker.seed,
        best=tracker.best_or_none(),
        iterations=tuple(journal.iterations),
        candidates=tuple(tracker.kept()),
        pareto_front=tuple(journal.pareto_front),
        counts=Counts(
            metric_calls=journal.metric_calls + journal.extra_metric_calls,
            gepa_metric_calls=journal.metric_calls,
            extra_metric_calls=journal.extra_metric_calls,
            budget=journal.stop_rules.budget,
            proposals=journal.proposals,
            iterations=len(journal.iterations),
        ),
        capacity=_capacity(journal),
    )
