"""Evidence counted mechanically from a trace: repeated calls, repeated errors, monologue length.

A tiny model cannot count; these numbers let it apply a counting rule ("3+ identical calls in a row")
that it could not check for itself. Two calls are *identical* when the tool name and the arguments
(as JSON, in the order written) are equal, the comparison OpenCode's doom-loop check makes. They are
*near-identical* when they are equal after removing cosmetic differences (`call_key`): argument
order, case, whitespace, separators in names, surrounding quotes and punctuation, and trivial
numbering such as "(attempt 2)" or "retry #3". Real differences, e.g. `page=1` against `page=2`,
stay different. Two errors are the *same error* when their first lines match with quoted names,
numbers and ids masked (`error_key`): "unexpected argument 'file'" and "unexpected argument 'name'"
are the same error, a timeout and an unknown tool are not. *Empty results in a row* counts the
longest run of tool results that found nothing (`traces.empty_results`): an agent rewording a search
that keeps coming back empty is stuck although no two of its calls are alike.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from smolgepa.traces.empty_results import longest_empty_run
from smolgepa.traces.trace_model import Message, ToolCall, ToolResult, Trace

_NUMBERING = re.compile(
    r"[\s(\[#-]*\b(?:attempt|try|retry|take|again)\b\s*(?:no\.?|number|#)?\s*\d+\s*[)\]]?"
    r"|\s*[(\[]\s*#?\d+\s*[)\]]\s*$|\s+#\d+\s*$",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")
_QUOTED = re.compile(r"(['\"`]).*?\1")
_NUMBER = re.compile(r"\d+")
_HEXISH = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{6,}\b")
_WORD = re.compile(r"[A-Za-z0-9']+")


def exact_key(call: ToolCall) -> str:
    """The identity of a call as OpenCode compares it: name plus JSON arguments in written order."""
    return call.tool + json.dumps(call.args, ensure_ascii=False)


def call_key(call: ToolCall) -> str:
    """The identity of a call with cosmetic differences removed (near-identical calls share it)."""
    return _name_key(call.tool) + json.dumps(_normalize(call.args), sort_keys=True, ensure_ascii=False)


def error_key(output: str) -> str:
    """An error message with its variable parts (quoted names, numbers, ids) masked."""
    first = output.strip().splitlines()[0] if output.strip() else ""
    text = _HEXISH.sub("#", first.lower())
    text = _QUOTED.sub("'…'", text)
    text = _NUMBER.sub("#", text)
    return _SPACE.sub(" ", text).strip(" .:")[:120]


def _name_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {_name_key(str(key)): _normalize(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return str(value)
    text = _NUMBERING.sub(" ", str(value).lower())
    return _SPACE.sub(" ", text).strip(" \t\n\"'`.,;:!?")


@dataclass(frozen=True)
class Run:
    """A run of consecutive tool calls sharing one key: its length, tool and turn numbers (1-based)."""

    length: int
    tool: str
    first_turn: int
    last_turn: int


@dataclass(frozen=True)
class Evidence:
    """Counts over a whole trace (before any shortening for display)."""

    turns: int
    calls: int
    messages: int
    errors: int
    identical_run: Run
    near_identical_run: Run
    repeated_error: int
    repeated_error_text: str
    monologue_words: int
    longest_monologue: int
    empty_results: int  # the most consecutive results that found nothing

    @property
    def words_per_call(self) -> float:
        return self.monologue_words / max(1, self.calls)


def collect_evidence(trace: Trace) -> Evidence:
    """Count the evidence in `trace`; consecutive means no other tool call in between."""
    calls = [(index + 1, turn) for index, turn in enumerate(trace.turns) if isinstance(turn, ToolCall)]
    errors = [turn.output for turn in trace.turns if isinstance(turn, ToolResult) and turn.error]
    error_counts = Counter(error_key(output) for output in errors)
    common_error, repeated = error_counts.most_common(1)[0] if error_counts else ("", 0)
    example_error = next((output for output in errors if error_key(output) == common_error), "")
    return Evidence(
        turns=len(trace.turns),
        calls=len(calls),
        messages=sum(isinstance(turn, Message) for turn in trace.turns),
        errors=len(errors),
        identical_run=longest_run(calls, exact_key),
        near_identical_run=longest_run(calls, call_key),
        repeated_error=repeated,
        repeated_error_text=example_error.strip().splitlines()[0][:100] if example_error.strip() else "",
        monologue_words=monologue_words(trace),
        longest_monologue=longest_message_run(trace),
        empty_results=longest_empty_run(trace),
    )


def longest_run(calls: list[tuple[int, ToolCall]], key: Any) -> Run:
    """The longest run of consecutive calls with equal `key(call)`; the latest wins a tie."""
    best = Run(0, "", 0, 0)
    start = 0
    for position in range(len(calls)):
        if position > 0 and key(calls[position][1]) != key(calls[position - 1][1]):
            start = position
        length = position - start + 1
        if length >= best.length:
            best = Run(length, calls[position][1].tool, calls[start][0], calls[position][0])
    return best


def monologue_words(trace: Trace) -> int:
    """Words the agent wrote to itself or the user: thoughts plus messages."""
    total = 0
    for turn in trace.turns:
        if isinstance(turn, Message):
            total += len(_WORD.findall(turn.content))
        elif isinstance(turn, ToolCall):
            total += len(_WORD.findall(turn.thought))
    return total


def longest_message_run(trace: Trace) -> int:
    """The most consecutive assistant messages with no tool call or result in between."""
    best = current = 0
    for turn in trace.turns:
        current = current + 1 if isinstance(turn, Message) else 0
        best = max(best, current)
    return best


def describe_evidence(evidence: Evidence) -> str:
    """The evidence as short lines a tiny model can read."""
    lines = [
        "Counts (whole trace):",
        f"tool calls: {evidence.calls}, errors: {evidence.errors}, messages: {evidence.messages}",
        f"same call in a row: {_run_text(evidence.identical_run)}",
        f"nearly same call in a row: {_run_text(evidence.near_identical_run)}",
        f"results that found nothing in a row: {evidence.empty_results}",
    ]
    if evidence.repeated_error > 1:
        quoted = _short(evidence.repeated_error_text, 60)
        lines.append(f'same error repeated: {evidence.repeated_error} times ("{quoted}")')
    else:
        lines.append("same error repeated: no")
    lines.append(
        f"words of thinking: {evidence.monologue_words} ({round(evidence.words_per_call)} per tool call), "
        f"messages in a row without a call: {evidence.longest_monologue}"
    )
    return "\n".join(lines)


def _run_text(run: Run) -> str:
    if run.length == 0:
        return "0"
    if run.length == 1:
        return "1"
    return f"{run.length} ({_short(run.tool, 40)}, turns {run.first_turn}-{run.last_turn})"


def _short(text: str, cap: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= cap else flat[: cap - 3] + "..."
