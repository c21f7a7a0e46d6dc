"""The parts of a candidate GEPA evolves for a tiny model, and which of them a proposal changed.

A candidate is one text: header lines (`Reading:`, `Label words:`, `smolgepa.candidate.header`), the
instruction text, and its `Examples:` block (`smolgepa.candidate.instruction`). Runs record, for every
proposal, the parts it changed, so a report can say whether the gain came from the wording, the
examples, the label words or how the answer is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from smolgepa.candidate.header import split_header
from smolgepa.candidate.instruction import Shot, split_instruction
from smolgepa.candidate.label_words import LABEL_WORDS_PREFIX
from smolgepa.candidate.reading_line import READING_PREFIX

# Part names, in the order reports list them.
PARTS = ("instruction", "examples", "label words", "reading")


@dataclass(frozen=True)
class CandidateParts:
    """One candidate cut into its parts (header values as written, "" when absent)."""

    instruction: str
    examples: tuple[Shot, ...]
    label_words: str
    reading: str


def candidate_parts(text: str) -> CandidateParts:
    """The parts of a candidate text."""
    header, body = split_header(text)
    base, shots = split_instruction(body)
    return CandidateParts(
        instruction=" ".join(base.split()),
        examples=tuple(shots),
        label_words=" ".join(header.get(LABEL_WORDS_PREFIX, "").split()),
        reading=header.get(READING_PREFIX, "").strip(),
    )


def changed_parts(old: str, new: str) -> list[str]:
    """The parts (PARTS order) in which `new` differs from `old`; whitespace-only edits don't count."""
    before, after = candidate_parts(old), candidate_parts(new)
    values = {
        "instruction": (before.instruction, after.instruction),
        "examples": (before.examples, after.examples),
        "label words": (before.label_words, after.label_words),
        "reading": (before.reading, after.reading),
    }
    return [part for part in PARTS if values[part][0] != values[part][1]]
