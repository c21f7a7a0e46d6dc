"""Instructions that carry labelled examples: an `Examples:` block of `Text: ...` / `Label: ...` pairs.

The fewshot proposer writes such blocks, a reflection model may too, and the PlainTextAdapter turns
them into chat turns: a 135M model copies the format of earlier assistant turns far more reliably
than it follows examples written inside the system message (measured: 0 of 12 outputs unreadable
as turns, 7-8 of 12 inside the system message, sentiment val+test).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

EXAMPLES_HEADER = "Examples:"
LABEL_PREFIX = "Label:"
_PAIR = re.compile(r"^(?P<prefix>[A-Z][A-Za-z ]{0,20}): (?P<input>.*)\nLabel: (?P<label>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Shot:
    """One labelled example inside an instruction."""

    input: str
    label: str


def one_line(text: str) -> str:
    return " ".join(text.split())


def render_instruction(base: str, shots: Sequence[Shot], prefix: str = "Text") -> str:
    """The base instruction followed by an examples block written like the student's own turns
    (`Text: ...` then `Label: ...`, as the PlainTextAdapter writes them), or just the base."""
    if not shots:
        return base.rstrip()
    pairs = "\n\n".join(f"{prefix}: {one_line(s.input)}\n{LABEL_PREFIX} {s.label}" for s in shots)
    return f"{base.rstrip()}\n\n{EXAMPLES_HEADER}\n{pairs}"


def split_instruction(text: str) -> tuple[str, list[Shot]]:
    """The base text and the examples of an instruction written by `render_instruction`."""
    marker = f"\n\n{EXAMPLES_HEADER}\n"
    at = text.rfind(marker)
    if at < 0:
        return text.rstrip(), []
    shots = [Shot(m.group("input").strip(), m.group("label").strip()) for m in _PAIR.finditer(text[at + len(marker):])]
    if not shots:
        return text.rstrip(), []
    return text[:at].rstrip(), shots
