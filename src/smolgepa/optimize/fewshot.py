"""The built-in `fewshot` proposer: new instructions made of labelled training examples, no LLM.

Each proposal keeps the parent's instruction text and changes its block of examples by one move:
start with one example per label (under-predicted labels first: the move that fixed the 135M
model's positivity bias in the study), add a failed minibatch example, replace an example of an
over-predicted label with a failure, reorder so under-predicted labels come first, add a short
training example of a label the student under-predicts or that has no example yet, or drop an
example of an over-predicted label. The first move that gives a new text within the token cap
wins; moves are tried in a fixed order, so runs are reproducible. Examples are written the way the
PlainTextAdapter writes the student's own turns (`Text: ...` / `Label: ...`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smolgepa.optimize.journal import Journal
from smolgepa.optimize.evidence.screen import EvidenceJudge
from smolgepa.optimize.offline_proposer import OfflineProposer, ProposalGate
from smolgepa.candidate.instruction import Shot, one_line, render_instruction, split_instruction
from smolgepa.tasks.model import Task
from smolgepa.lm.token_count import approx_tokens

MAX_SHOT_CHARS = 400  # longer training inputs are not used as examples
# Trace inputs are measured as rendered, in tokens: a `summary` rendering (at most
# SUMMARY_MAX_TOKENS) fits, a plain or annotated transcript (hundreds of tokens) does not.
MAX_SHOT_TOKENS = 150


class FewshotProposer(OfflineProposer):
    """GEPA `ProposalFn` that edits the examples block of the instruction. Never raises."""

    name = "fewshot"
    moves_name = "few-shot"

    def __init__(self, task: Task, gate: ProposalGate, journal: Journal,
                 readings: Sequence[str] = (), own_reading: str = "", label_words: Any = None,
                 judge: EvidenceJudge | None = None) -> None:
        super().__init__(task, gate, journal, readings, own_reading, label_words, judge)
        self.train = [e for e in task.split("train") if self.short_enough(e.input)]
        self._by_input = {one_line(e.input): e for e in task.split("train")}

    def short_enough(self, rendered_input: str) -> bool:
        """Whether an input, as the student reads it, is short enough to be an example."""
        if self.task.input_format == "trace":
            return approx_tokens(rendered_input) <= MAX_SHOT_TOKENS
        return len(one_line(rendered_input)) <= MAX_SHOT_CHARS

    def unusable_note(self) -> str:
        """Why this proposer can do nothing for the task ("" when it can): every training input is too long."""
        if self.train:
            return ""
        if self.task.input_format == "trace":
            return (
                f"None of the {len(self.task.split('train'))} training inputs is short enough to be an example "
                f"as rendered ({self.task.render}; at most {MAX_SHOT_TOKENS} tokens), so the fewshot proposer "
                "will find no move; pass --render summary, --reflection rules, or a reflection model."
            )
        return (
            f"None of the {len(self.task.split('train'))} training inputs is short enough to be an example "
            f"(at most {MAX_SHOT_CHARS} characters), so the fewshot proposer will find no move; "
            "give --reflection a model (an API, a local server or cmd:) for this task."
        )

    def failures(self, examples: Sequence[Mapping[str, Any]]) -> list[Shot]:
        """The minibatch examples the parent got wrong, as shots with their gold labels."""
        found: list[Shot] = []
        for item in examples:
            inputs = item.get("Inputs", {})
            text = one_line(str(inputs.get("input", "") if isinstance(inputs, Mapping) else inputs))
            gold = self._by_input.get(text)
            outputs = item.get("Generated Outputs", {})
            predicted = outputs.get("label") if isinstance(outputs, Mapping) else None
            if gold is not None and str(predicted) != gold.label and self.short_enough(gold.input):
                shot = Shot(text, gold.label)
                if shot not in found:
                    found.append(shot)
        return found

    def label_gaps(self, instruction: str, failures: Sequence[Shot]) -> tuple[list[str], list[str]]:
        """(under-predicted labels, over-predicted labels), worst first, from the parent's diagnostics;
        without diagnostics, the gold labels of the failures count as under-predicted."""
        diagnostics = self.journal.diagnostics_for(instruction)
        under = [label for label, _ in diagnostics.under_predicted] if diagnostics else []
        over = [label for label, _ in diagnostics.over_predicted] if diagnostics else []
        if diagnostics and diagnostics.collapse_label and diagnostics.collapse_label not in over:
            over.insert(0, diagnostics.collapse_label)
        for shot in failures:
            if shot.label not in under and shot.label not in over:
                under.append(shot.label)
        return under, over

    def moves(self, shots: list[Shot], failures: list[Shot], under: list[str],
              over: list[str]) -> Iterator[tuple[str, list[Shot]]]:
        """Candidate example lists, in order of preference, each with a description of the move."""
        rank = {label: i for i, label in enumerate(under)}
        by_rank = lambda label: rank.get(label, len(rank))  # noqa: E731
        pools = {
            label: [Shot(one_line(e.input), e.label)
                    for e in sorted((e for e in self.train if e.label == label), key=lambda e: (len(e.input), e.id))]
            for label in self.task.labels
        }
        if not shots:  # one example per label, failures preferred, under-predicted labels first
            for depth in range(max((len(pool) for pool in pools.values()), default=0)):
                chosen = []
                for label in sorted(self.task.labels, key=by_rank):
                    own = [f for f in failures if f.label == label] if depth == 0 else []
                    pool = own + [s for s in pools[label] if s not in own]
                    if pool:
                        chosen.append(pool[min(depth, len(pool) - 1)])
                if chosen:
                    yield f"one example per label ({', '.join(s.label for s in chosen)})", chosen
        fresh = sorted((f for f in failures if f not in shots), key=lambda s: (by_rank(s.label), len(s.input)))
        for shot in fresh:
            if shot.label in rank:
                yield f"add failed example ({shot.label}) first", [shot, *shots]
            else:
                yield f"add failed example ({shot.label}) last", [*shots, shot]
        counts = {label: sum(s.label == label for s in shots) for label in self.task.labels}
        victims = sorted(
            range(len(shots)),
            key=lambda i: (shots[i].label not in over, -counts.get(shots[i].label, 0), -len(shots[i].input)),
        )
        for shot in fresh:
            for i in victims:
                if shots[i].label != shot.label:
                    yield (f"replace an example ({shots[i].label}) with a failed one ({shot.label})",
                           [*shots[:i], shot, *shots[i + 1:]])
        if under:
            reordered = sorted(shots, key=lambda s: by_rank(s.label))
            if reordered != shots:
                yield f"reorder: {', '.join(under)} examples first", reordered
        missing = [label for label in self.task.labels if counts.get(label, 0) == 0]
        for label in [*under, *(m for m in missing if m not in under)]:
            for shot in pools[label]:
                if shot not in shots:
                    yield f"add a short training example ({label}) first", [shot, *shots]
        for i in victims:
            if shots[i].label in over:
                yield f"remove an example of the over-predicted label {shots[i].label}", [*shots[:i], *shots[i + 1:]]
        for label in self.task.labels:
            for shot in pools[label]:
                if shot not in shots:
                    yield f"add a training example ({label}) last", [*shots, shot]

    def text_moves(self, instruction: str, examples: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
        base, shots = split_instruction(instruction)
        failures = self.failures(examples)
        under, over = self.label_gaps(instruction, failures)
        for move, new_shots in self.moves(shots, failures, under, over):
            yield move, render_instruction(base, new_shots, self.prefix)
