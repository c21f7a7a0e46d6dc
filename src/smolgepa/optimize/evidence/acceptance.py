"""GEPA's acceptance criterion for smolgepa runs: structural moves on evidence, text moves on the minibatch.

A proposal that changes how the answer is read or the label words (`smolgepa.candidate.candidate_parts`) is accepted only
when the paired sequential test, on the screen's training sample and validation, says it reads better
than its parent (`EvidenceJudge.compare`); the 3-example minibatch has no say, since it cannot tell
apart readings 10 points apart. Every other proposal (instruction, examples, rules) keeps GEPA's rule,
strictly more minibatch examples right than the parent, unless the run asks for the same paired test
on text moves too (`text_rule="evidence"`, `--text-moves evidence`; measured against the minibatch in
docs/measurements/choosing-by-evidence.md).
"""

from __future__ import annotations

from typing import Any

from smolgepa.optimize.evidence.screen import Comparison, EvidenceJudge
from smolgepa.candidate.candidate_parts import changed_parts

STRUCTURAL_PARTS = frozenset({"reading", "label words"})
TEXT_RULES = ("minibatch", "evidence")  # how text moves (instruction, examples, rules) are accepted


def is_structural(parent: str, candidate: str) -> bool:
    """Whether `candidate` changes how its parent's answer is read or the words it is scored on."""
    return bool(STRUCTURAL_PARTS.intersection(changed_parts(parent, candidate)))


class EvidenceAcceptance:
    """A `gepa` AcceptanceCriterion. `on_judged(comparison)` hears every paired verdict (the journal
    records it with the iteration). `text_rule` decides text moves: `minibatch` (GEPA's own rule) or
    `evidence` (the paired test, as for structural moves)."""

    def __init__(self, judge: EvidenceJudge, on_judged: Any = None, text_rule: str = "minibatch") -> None:
        if text_rule not in TEXT_RULES:
            raise ValueError(f"text_rule must be one of {', '.join(TEXT_RULES)}, got {text_rule!r}")
        self.judge = judge
        self.on_judged = on_judged
        self.text_rule = text_rule

    def on_evidence(self, parent: str, candidate: str) -> bool:
        """Whether the paired test, not the minibatch, decides this proposal."""
        return self.text_rule == "evidence" or is_structural(parent, candidate)

    def should_accept(self, proposal: Any, state: Any) -> bool:
        parent, candidate = _texts(proposal, state)
        if not self.on_evidence(parent, candidate):
            return sum(proposal.subsample_scores_after or []) > sum(proposal.subsample_scores_before or [])
        comparison = self.judge.compare(parent, candidate)
        if self.on_judged is not None:
            self.on_judged(comparison)
        return comparison.option.passed

    def reject_reason(self, proposal: Any, state: Any) -> str:
        parent, candidate = _texts(proposal, state)
        if not self.on_evidence(parent, candidate):
            return "minibatch not better"
        return evidence_reason(self.judge.compare(parent, candidate))


def _texts(proposal: Any, state: Any) -> tuple[str, str]:
    """(parent instruction, proposed instruction) of a single-predictor proposal."""
    name, candidate = next(iter(proposal.candidate.items()))
    return state.program_candidates[proposal.parent_program_ids[0]][name], candidate


def evidence_reason(comparison: Comparison) -> str:
    """What the iteration's record says of a structural verdict."""
    old, new = comparison.parent, comparison.option
    verdict = new.verdict.text() if new.verdict else ""
    fate = "better, so evaluated on val" if new.passed else "not shown better"
    return (f"screen: train {old.train.text()} -> {new.train.text()}, val "
            f"{old.val.text() if old.val else '?'} -> {new.val.text() if new.val else '?'}; {verdict}: {fate}")
