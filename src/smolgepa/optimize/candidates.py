"""The candidates GEPA keeps, their validation results, and which one is best so far."""

from __future__ import annotations

from collections.abc import Callable

from smolgepa.evaluation.diagnostics import Diagnostics
from smolgepa.evaluation.evaluate import EvalReport
from smolgepa.optimize.cache import instruction_hash
from smolgepa.optimize.iteration import evaluation_of
from smolgepa.runrecord import Candidate

Evaluator = Callable[[str], EvalReport]


class BestTracker:
    """Evaluates instructions on validation once each, keeps every candidate, and tracks the best
    (by correct answers; a tie keeps the earlier candidate)."""

    def __init__(self, evaluate_val: Evaluator, count_tokens: Callable[[str], int]) -> None:
        self.evaluate_val = evaluate_val
        self.count_tokens = count_tokens
        self.reports: dict[str, EvalReport] = {}
        self.candidates: list[Candidate | None] = []
        self.seed: Candidate | None = None
        self.best_idx = 0

    def evaluate(self, instruction: str) -> EvalReport:
        """The validation report of an instruction (evaluated on first use only)."""
        sha = instruction_hash(instruction)
        if sha not in self.reports:
            self.reports[sha] = self.evaluate_val(instruction)
        return self.reports[sha]

    def report_for(self, instruction: str) -> EvalReport | None:
        return self.reports.get(instruction_hash(instruction))

    def diagnostics_for(self, instruction: str) -> Diagnostics | None:
        report = self.report_for(instruction)
        return report.diagnostics if report else None

    def add(self, index: int, parent: int | None, iteration: int, instruction: str) -> tuple[Candidate, EvalReport]:
        """Record candidate `index` (0: the seed) with its validation result."""
        report = self.evaluate(instruction)
        candidate = Candidate(index, parent, iteration, instruction, instruction_hash(instruction),
                              self.count_tokens(instruction), evaluation_of(report))
        while len(self.candidates) <= index:
            self.candidates.append(None)
        self.candidates[index] = candidate
        if index == 0:
            self.seed = candidate
        return candidate, report

    def take_if_better(self, index: int, report: EvalReport) -> bool:
        """Make candidate `index` the best if it answers more validation examples correctly."""
        if report.correct > self.best.val.correct:  # type: ignore[union-attr]
            self.best_idx = index
            return True
        return False

    @property
    def best(self) -> Candidate:
        best = self.candidates[self.best_idx]
        assert best is not None  # the seed (index 0) is recorded first
        return best

    def best_or_none(self) -> Candidate | None:
        return self.candidates[self.best_idx] if self.candidates else None

    def kept(self) -> list[Candidate]:
        """The candidates recorded so far, in index order."""
        return [c for c in self.candidates if c is not None]
