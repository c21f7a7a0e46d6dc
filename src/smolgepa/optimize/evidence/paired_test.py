"""The acceptance rule for structural moves: Wald's sequential probability ratio test on paired answers.

Two candidates answer the same examples. Only the discordant pairs carry evidence: a *win* (the new
candidate right, the old one wrong) or a *loss* (the reverse). If the two read equally well, a
discordant pair is a win with probability 1/2 (H0); if the new one is clearly better, with probability
`p_better` (H1, 0.65 by default: with a third of the answers discordant, about 10 points of accuracy).
The pairs are read in a fixed order and the log-likelihood ratio of H1 against H0 is summed; the test
stops at the first crossing of log((1 - beta) / alpha) (accept) or log(beta / (1 - alpha)) (reject).
When the pairs run out before either crossing (the cap), the exact one-sided sign test on the
discordant pairs decides at half of alpha (accept when p <= alpha / 2), otherwise the answer is
"undecided" and the move is not accepted: a tie never is. The error rates, checked by simulation in tests/test_evidence.py and
written down in docs/optimize.md: at most `alpha` accepts when the two are equal, at most `beta` misses
when the new one is as much better as `p_better` says and enough pairs are available.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ACCEPT, REJECT, UNDECIDED = "accept", "reject", "undecided"


@dataclass(frozen=True)
class PairedVerdict:
    """What the test decided, after how many pairs, from how many wins and losses."""

    decision: str  # accept | reject | undecided
    wins: int
    losses: int
    looked: int  # pairs read before stopping
    available: int  # pairs there were (the cap)
    llr: float

    @property
    def accepted(self) -> bool:
        return self.decision == ACCEPT

    def text(self) -> str:
        stop = "stopped early" if self.looked < self.available else "all pairs read"
        return (f"paired test: {self.decision} ({self.wins} wins, {self.losses} losses in {self.looked} of "
                f"{self.available} paired answers, {stop})")

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "wins": self.wins, "losses": self.losses, "looked": self.looked,
                "available": self.available, "llr": self.llr}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PairedVerdict | None:
        if not data:
            return None
        return cls(str(data["decision"]), int(data["wins"]), int(data["losses"]), int(data["looked"]),
                   int(data["available"]), float(data.get("llr") or 0.0))


@dataclass(frozen=True)
class SequentialPairedTest:
    """Wald's SPRT on discordant pairs (see the module docstring). Validated once, at construction."""

    alpha: float = 0.05  # accepting a move that reads no better
    beta: float = 0.10  # missing a move that is as much better as p_better
    p_better: float = 0.65  # P(win | discordant) under H1

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5 or not 0 < self.beta < 0.5:
            raise ValueError(f"alpha and beta must lie in (0, 0.5), got {self.alpha} and {self.beta}")
        if not 0.5 < self.p_better < 1:
            raise ValueError(f"p_better must lie in (0.5, 1), got {self.p_better}")

    @property
    def upper(self) -> float:
        return math.log((1 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        return math.log(self.beta / (1 - self.alpha))

    def decide(self, pairs: Iterable[tuple[bool, bool]]) -> PairedVerdict:
        """Read (old correct, new correct) pairs in order until the evidence is clear or they run out."""
        pairs = list(pairs)
        win_step = math.log(self.p_better / 0.5)
        loss_step = math.log((1 - self.p_better) / 0.5)
        llr, wins, losses = 0.0, 0, 0
        for looked, (old, new) in enumerate(pairs, start=1):
            if new and not old:
                wins, llr = wins + 1, llr + win_step
            elif old and not new:
                losses, llr = losses + 1, llr + loss_step
            if llr >= self.upper:
                return PairedVerdict(ACCEPT, wins, losses, looked, len(pairs), llr)
            if llr <= self.lower:
                return PairedVerdict(REJECT, wins, losses, looked, len(pairs), llr)
        # At the cap, the fixed-sample sign test on the discordant pairs decides (as a truncated SPRT
        # does): on a small task 10 wins to 1 loss is clear (p = 0.006) yet short of Wald's bound. At
        # half of alpha, so that the two ways of accepting stay under alpha together (simulated).
        if wins > losses and sign_test_p(wins, losses) <= self.alpha / 2:
            return PairedVerdict(ACCEPT, wins, losses, len(pairs), len(pairs), llr)
        return PairedVerdict(UNDECIDED, wins, losses, len(pairs), len(pairs), llr)


def sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact sign test: P(at least `wins` wins of the discordant pairs | both read equally)."""
    n = wins + losses
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2 ** n
