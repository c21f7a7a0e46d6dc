"""`data audit`: the labelled examples whose given label is likely wrong, most suspect first.

An `Audit` is confident learning (`confident.find_issues`) over out-of-fold label probabilities
(`fold_probs`). A suspect's `score` is 1 minus the out-of-fold probability of its given label (higher:
more suspect); `suggested` is the likeliest other label. With a verifier model (`data/verdicts.py`) each
suspect also gets a `verdict` (agree with the given label, relabel to `verifier_label`, or junk) and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smolgepa.data.confident import find_issues, label_indices
from smolgepa.data.fold_probs import LabelProbabilities

from smolgepa.evaluation.display import shorten

REASON_SHOWN = 70  # characters of a verifier's reason in the table (--json has all of it)


@dataclass(frozen=True)
class Suspect:
    """One example whose label is suspect."""

    id: str
    label: str
    suggested: str
    score: float
    split: str = ""
    verdict: str | None = None  # with a verifier: agree, relabel or junk
    verifier_label: str | None = None  # the label the verifier named (None: junk)
    reason: str = ""  # the verifier's one-line reason

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "label": self.label, "suggested": self.suggested, "score": round(self.score, 4)}
        if self.verdict is not None:
            data.update(verdict=self.verdict, verifier_label=self.verifier_label, reason=self.reason)
        return data

    @property
    def verdict_text(self) -> str:
        """The verdict as the table shows it: `agree`, `-> LABEL` or `junk`."""
        return f"-> {self.verifier_label}" if self.verdict == "relabel" else str(self.verdict or "")


@dataclass(frozen=True)
class Audit:
    """The audit of `n` labelled examples: the suspects, most suspect first, and where the probabilities came from."""

    task: str
    source: str
    n: int
    suspects: tuple[Suspect, ...]
    verifier: str = ""  # the verifier's spec, when one gave verdicts
    verifier_calls: dict[str, Any] | None = None  # its tally (calls, junk, ...)
    junk_line: str = ""

    def to_json(self) -> dict[str, Any]:
        """The `--json` form: {"n": N, "suspects": [{"id", "label", "suggested", "score"}, ...]}; with a
        verifier each suspect also has "verdict", "verifier_label" and "reason", and "verifier" its calls."""
        data: dict[str, Any] = {"n": self.n, "suspects": [s.to_json() for s in self.suspects]}
        if self.verifier:
            data["verifier"] = {"spec": self.verifier, **(self.verifier_calls or {})}
        return data

    def corrections(self) -> dict[str, str]:
        """id -> new label: every suspect's suggested label; with verdicts, the verifier's label where it
        named another one (a suspect it agreed with, or junk, keeps its label)."""
        if self.verifier:
            return {s.id: s.verifier_label for s in self.suspects if s.verdict == "relabel" and s.verifier_label}
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
        verdicts = f"  {'verdict':<14}  reason" if audit.verifier else ""
        lines.append(f"{'id':<{width}}  split  {'label':<12}  {'suggested':<12}  score{verdicts}")
        for s in audit.suspects[:limit]:
            verdict = f"  {s.verdict_text:<14}  {shorten(s.reason, REASON_SHOWN)}" if audit.verifier else ""
            lines.append(f"{s.id:<{width}}  {s.split:<5}  {s.label:<12}  {s.suggested:<12}  {s.score:.3f}{verdict}"
                         .rstrip())
        if limit is not None and len(audit.suspects) > limit:
            lines.append(f"... {len(audit.suspects) - limit} more (--json lists all)")
    if audit.verifier:
        agree = sum(s.verdict == "agree" for s in audit.suspects)
        relabel = sum(s.verdict == "relabel" for s in audit.suspects)
        lines.append(f"verifier {audit.verifier}: agrees with the given label on {agree}, names another on "
                     f"{relabel}, junk on {len(audit.suspects) - agree - relabel}")
        if audit.junk_line:
            lines.append(audit.junk_line)
    return "\n".join(lines)
