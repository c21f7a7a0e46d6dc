"""GEPA's acceptance criterion for smolgepa runs: structural moves on evidence, text moves on the minibatch.

A proposal that changes how the answer is read or the label words (`smolgepa.candidate.candidate_parts`) is accepted only
when the paired sequential test, on the screen's training sample and validation, says it reads better
than its parent (`EvidenceJudge.compare`); the 3-example minibatch has no say, since it cannot tell
apart readings 10 points apart. Every other proposal (instruction, examples, rules) keeps GEPA's rule:
strictly more minibatch examples right than the parent.
"""

from __future__ import annotations

from typing import Any

from smolgepa.optimize.evidence.screen import Comparison, EvidenceJudge
from smolgepa.candidate.candidate_parts import changed_parts

STRUCTURAL_PARTS = frozenset({"reading", "label words"})


def is_structural(parent: str, candidate: str) -> bool:
    """Whether `candidate` changes how its parent's answer is read or the words it is scored on."""
    return bool(STRUCTURAL_PARTS.intersection(changed_parts(parent, candidate)))


class EvidenceAcceptance:
    """A `gepa` AcceptanceCriterion. `on_judged(comparison)` hears every structural verdict (the
    journal records it with the iteration)."""

    def __init__(self, judge: EvidenceJudge, on_judged: Any = None) -> None:
        self.judge = judge
        self.on_judged = on_judged

    def should_accept(self, proposal: Any, state: Any) -> bool:
        name, candidate = next(iter(proposal.candidate.items()))
        parent = state.program_candidates[proposal.parent_program_ids[0]][name]
        if not is_structural(parent, candidate):
            return sum(proposal.subsample_scores_after or []) > sum(proposal.subsample_scores_before or [])
        comparison = self.judge.compare(parent, candidate)
        if self.on_judged is not None:
            self.on_judged(comparison)
        return comparison.option.passed

    def reject_reason(self, proposal: Any, state: Any) -> str:
        name, candidate = next(iter(proposal.candidate.items()))
        parent = state.program_candidates[proposal.parent_program_ids[0]][name]
        if not is_structural(parent, candidate):
            return "minibatch not better"
        return evidence_reason(self.judge.compare(parent, candidate))


def evidence_reason(comparison: Comparison) -> str:
    """What the iteration's record says of a structural verdict."""
    old, new = comparison.parent, comparison.option
    verdict = new.verdict.text() if new.verdict else ""
    fate = "better, so evaluated on val" if new.passed else "not shown better"
    return (f"screen: train {old.train.text()} -> {new.train.text()}, val "
            f"{old.val.text() if old.val else '?'} -> {new.val.text() if new.val else '?'}; {verdict}: {fate}")
