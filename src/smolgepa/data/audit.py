"""`data audit`: the labelled examples whose given label is likely wrong, most suspect first.

An `Audit` is confident learning (`confident.find_issues`) over out-of-fold label probabilities
(`fold_probs`). A suspect's `score` is 1 minus the out-of-fold probability of its given label (higher:
more suspect); `suggested` is the likeliest other label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smolgepa.data.confident import find_issues, label_indices
from smolgepa.data.fold_probs import LabelProbabilities


@dataclass(frozen=True)
class Suspect:
    """One example whose label is suspect."""

    id: str
    label: str
    suggested: str
    score: float
    split: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "suggested": self.suggested, "score": round(self.score, 4)}


@dataclass(frozen=True)
class Audit:
    """The audit of `n` labelled examples: the suspects, most suspect first, and where the probabilities came from."""

    task: str
    source: str
    n: int
    suspects: tuple[Suspect, ...]

    def to_json(self) -> dict[str, Any]:
        """The `--json` form: {"n": N, "suspects": [{"id", "label", "suggested", "score"}, ...]}."""
        return {"n": self.n, "suspects": [s.to_json() for s in self.suspects]}

    def corrections(self) -> dict[str, str]:
        """id -> suggested label, for every suspect."""
        return {s.id: s.suggested for s in self.suspects}


def audit_labels(task_name: str, probabilities: LabelProbabilities) -> Audit:
    """Confident learning over `probabilities`: the flagged examples as suspects, most suspect first."""
    given = label_indices(probabilities.labels, probabilities.names)
    issues = find_issues(probabilities.probs, given)
    suspects = tuple(
        Suspect(probabilities.ids[i], probabilities.labels[i], probabilities.names[issues.suggested[i]],
                float(1.0 - probabilities.probs[i, given[i]]), probabilities.splits[i])
        for i in issues.order
    )
    return Audit(task_name, probabilities.source, len(probabilities.ids), suspects)


def audit_text(audit: Audit, limit: int | None = None) -> str:
    """The audit as a table for the terminal (every suspect, or the first `limit`)."""
    lines = [f"task {audit.task} | probabilities {audit.source} (out of fold) | audited {audit.n} examples (train, val)",
             f"suspects: {len(audit.suspects)} (confident learning, most suspect first)"]
    if audit.suspects:
        width = max(len(s.id) for s in audit.suspects)
        lines.append(f"{'id':<{width}}  split  {'label':<12}  {'suggested':<12}  score")
        for s in audit.suspects[:limit]:
            lines.append(f"{s.id:<{width}}  {s.split:<5}  {s.label:<12}  {s.suggested:<12}  {s.score:.3f}")
        if limit is not None and len(audit.suspects) > limit:
            lines.append(f"... {len(audit.suspects) - limit} more (--json lists all)")
    return "\n".join(lines)
