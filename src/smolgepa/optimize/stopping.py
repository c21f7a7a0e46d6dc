"""When a run stops: the budget, the proposal limit, patience, and proposers that keep failing."""

from __future__ import annotations

from dataclasses import dataclass

from smolgepa.optimize.config import OFFLINE_PROPOSERS
from smolgepa.runrecord import Iteration

MAX_CONSECUTIVE_REFLECTION_FAILURES = 5
MAX_CONSECUTIVE_EXHAUSTED = 3  # a built-in proposer found nothing new this many times in a row


@dataclass
class StopRules:
    """The stopping rules of a run and the counters they read, updated as proposals come in."""

    budget: int
    max_proposals: int | None = None
    patience: int | None = None
    since_improvement: int = 0
    consecutive_reflection_failures: int = 0
    consecutive_exhausted: int = 0
    exhausted_proposer: str = "fewshot"

    def proposal_made(self, proposer: str) -> None:
        if proposer not in OFFLINE_PROPOSERS:
            self.consecutive_reflection_failures = 0

    def proposal_failed(self, status: str, proposer: str) -> None:
        if status == "failed":
            self.consecutive_reflection_failures += 1
        elif proposer not in OFFLINE_PROPOSERS:
            self.consecutive_reflection_failures = 0

    def improved(self) -> None:
        """A proposal beat the best on validation: reset patience after counting it."""
        self.since_improvement = -1

    def iteration_recorded(self, record: Iteration) -> None:
        if not record.is_proposal:
            return
        self.since_improvement += 1
        self.consecutive_exhausted = self.consecutive_exhausted + 1 if record.status == "exhausted" else 0
        if record.status == "exhausted":
            self.exhausted_proposer = record.proposer or self.exhausted_proposer

    def reason(self, used: int, proposals: int) -> str | None:
        """Why the run should stop now, after `used` metric calls and `proposals` proposals; None to go on."""
        if used >= self.budget:
            return f"budget used: {used} metric calls of {self.budget}"
        if self.max_proposals is not None and proposals >= self.max_proposals:
            return f"maximum proposals reached ({self.max_proposals})"
        if self.patience is not None and self.since_improvement >= self.patience:
            return f"patience: {self.since_improvement} proposals without a validation improvement"
        if self.consecutive_reflection_failures >= MAX_CONSECUTIVE_REFLECTION_FAILURES:
            return f"{self.consecutive_reflection_failures} reflection calls failed in a row"
        if self.consecutive_exhausted >= MAX_CONSECUTIVE_EXHAUSTED:
            return (f"the {self.exhausted_proposer} proposer found no new move "
                    f"{self.consecutive_exhausted} times in a row")
        return None
