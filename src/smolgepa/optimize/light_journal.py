"""What the built-in offline proposers need of a run's journal, without a run directory.

`OfflineProposer` (`fewshot`, `rules`) asks its journal whether a text was proposed before, how
often minibatches rejected it, and the parent's validation diagnostics, and tells it each
proposal's fate. In a `smolgepa optimize` run that is the `Journal`, which also hears GEPA's
callbacks; for a plain `dspy.GEPA` run (`smolgepa.proposers`) this light journal keeps the texts
seen (candidates and proposals, so nothing is proposed twice) and a record of each proposal.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from smolgepa.evaluation.diagnostics import Diagnostics
from smolgepa.optimize.iteration import normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProposalNote:
    """One call of an offline proposer: the move made (or why none), and the text proposed."""

    proposer: str
    status: str  # "proposed", or why not: "exhausted", "failed"
    move: str | None
    reason: str
    text: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class LightJournal:
    """The journal calls an offline proposer makes, kept in memory: no diagnostics (failures in the
    minibatch stand in for them), no second look at a rejected reading move."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}  # normalized text -> order first seen (0: the first candidate)
        self.records: list[ProposalNote] = []
        self.fatal: BaseException | None = None

    def candidate(self, text: str) -> None:
        """A text GEPA holds as a candidate: never proposed again."""
        self.seen.setdefault(normalize(text), len(self.seen))

    def diagnostics_for(self, instruction: str) -> Diagnostics | None:
        return None

    def duplicate_of(self, text: str) -> int | None:
        return self.seen.get(normalize(text))

    def rejected_looks(self, text: str) -> int:
        return 0

    def proposal_made(self, text: str, tokens: int, proposer: str, **details: Any) -> None:
        self.candidate(text)
        self.records.append(ProposalNote(proposer, "proposed", details.get("move"), "", text))
        log.info("%s proposal: %s (%d tokens)", proposer, details.get("move"), tokens)

    def proposal_failed(self, status: str, reason: str, proposer: str, text: str | None = None,
                        tokens: int | None = None, **details: Any) -> None:
        self.records.append(ProposalNote(proposer, status, details.get("move"), reason, text))
        log.info("%s: no proposal (%s): %s", proposer, status, reason)
