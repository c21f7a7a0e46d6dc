"""The evidence figures: the numbers of `smolgepa.traces.evidence` under the names the summary prints.

One table serves three readers, so they cannot drift apart: the `summary` rendering prints each
figure on a line starting with its `line` name ("Same call repeated: 5"), the
evidence logistic regression (`traces.shallow.FiguresClassifier`) reads the numbers, and the
counting rules (`traces.rules`) name the lines a tiny model must check ("If "Same call repeated"
is 3 or more, answer doom_loop").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smolgepa.traces.evidence import Evidence, collect_evidence
from smolgepa.traces.trace_model import ToolCall, Trace


@dataclass(frozen=True)
class Figure:
    """One counted number: its key, the summary line it is printed on, and how it is read."""

    key: str
    line: str
    value: Callable[[Evidence, Trace], float]


def _distinct_tools(trace: Trace) -> int:
    return len({turn.tool for turn in trace.turns if isinstance(turn, ToolCall)})


FIGURES: tuple[Figure, ...] = (
    Figure("same_call", "Same call repeated", lambda e, t: e.identical_run.length),
    Figure("near_call", "Similar call repeated", lambda e, t: e.near_identical_run.length),
    Figure("errors", "Errors", lambda e, t: e.errors),
    Figure("empty_results", "Empty results in a row", lambda e, t: e.empty_results),
    Figure("same_error", "Same error repeated", lambda e, t: e.repeated_error),
    Figure("words_per_call", "Thinking words per call", lambda e, t: round(e.words_per_call)),
    Figure("messages_in_a_row", "Messages in a row", lambda e, t: e.longest_monologue),
    Figure("calls", "Calls", lambda e, t: e.calls),
    Figure("tools", "Tools", lambda e, t: _distinct_tools(t)),
)
FIGURE_KEYS = tuple(figure.key for figure in FIGURES)
BY_KEY = {figure.key: figure for figure in FIGURES}
BY_LINE = {figure.line: figure for figure in FIGURES}


def figures(trace: Trace, evidence: Evidence | None = None) -> dict[str, float]:
    """Every figure of `trace`, by key (whole numbers, counted on the whole trace)."""
    counted = evidence or collect_evidence(trace)
    return {figure.key: figure.value(counted, trace) for figure in FIGURES}
