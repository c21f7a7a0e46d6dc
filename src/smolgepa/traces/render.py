"""Render a trace as the compact, deterministic transcript a tiny model reads.

`plain` is the trace itself, one numbered line per turn. `annotated` adds the counted evidence of
`smolgepa.traces.evidence` below it. `summary` is the counted evidence alone, a few short lines
(`smolgepa.traces.summary`), well under the budget. Over the token budget, long fields are first
clipped (each clip says how many characters it dropped), then whole turns are left out of the middle with a
marker such as "[... 12 turns omitted (turns 6-17) ...]"; nothing is ever cut silently. The
evidence is always counted on the whole trace.
"""

from __future__ import annotations

import json
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.evidence import collect_evidence, describe_evidence
from smolgepa.traces.trace_model import Message, ToolCall, ToolResult, Trace, Turn, UserMessage
from smolgepa.lm.token_count import TokenCounter, approx_tokens

MODES = ("plain", "annotated", "summary")
# Field caps tried in order (characters per thought, output, message or argument list).
FIELD_CAPS: tuple[int | None, ...] = (None, 300, 160, 100)
TASK_CAP = 300


def render_trace(
    trace: Trace,
    mode: str = "plain",
    max_tokens: int = 700,
    count_tokens: TokenCounter | None = None,
) -> str:
    """The transcript of `trace` within `max_tokens` (approximate tokens unless `count_tokens` is given).

    The result exceeds the budget only when the task line and the evidence alone do not fit.
    """
    if mode not in MODES:
        raise SmolgepaError(f"Unknown rendering {mode!r}: use one of {', '.join(MODES)}.")
    if max_tokens < 1:
        raise SmolgepaError(f"The token budget must be a positive whole number, got {max_tokens}.")
    count = count_tokens or approx_tokens
    if mode == "summary":
        from smolgepa.traces.summary import SUMMARY_MAX_TOKENS, render_summary

        return render_summary(trace, min(max_tokens, SUMMARY_MAX_TOKENS), count)
    header = "Task: " + clip(trace.task, TASK_CAP)
    footer = describe_evidence(collect_evidence(trace)) if mode == "annotated" else ""
    lines: list[str] = []
    for cap in FIELD_CAPS:
        lines = [render_turn(number, turn, cap) for number, turn in enumerate(trace.turns, start=1)]
        text = _assemble(header, lines, footer)
        if count(text) <= max_tokens:
            return text
    return _omit_middle(header, lines, footer, max_tokens, count)


def render_turn(number: int, turn: Turn, cap: int | None = None) -> str:
    """One turn as one line, its long fields clipped to `cap` characters."""
    if isinstance(turn, ToolCall):
        line = f"{number}. agent calls {turn.tool}({clip(format_args(turn.args), cap)})"
        if turn.thought:
            line += " Thought: " + clip(turn.thought, cap)
        return line
    if isinstance(turn, ToolResult):
        if turn.error:
            return f"{number}. {turn.name} returned ERROR: {clip(turn.output, cap) or '(no message)'}"
        if not turn.output:
            return f"{number}. {turn.name} returned nothing"
        return f"{number}. {turn.name} returned: {clip(turn.output, cap)}"
    if isinstance(turn, Message):
        return f"{number}. agent says: {clip(turn.content, cap)}"
    if isinstance(turn, UserMessage):
        return f"{number}. user says: {clip(turn.content, cap)}"
    raise TypeError(f"not a trace turn: {turn!r}")


def format_args(args: dict[str, Any]) -> str:
    """Arguments as `key="value", n=3`, in the order written (values as compact JSON)."""
    return ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False, separators=(', ', ': '))}" for key, value in args.items()
    )


def clip(text: str, cap: int | None) -> str:
    """`text` on one line; beyond `cap` characters, cut with a marker saying how much was dropped."""
    flat = " ".join(text.split())
    if cap is None or len(flat) <= cap:
        return flat
    cut = flat.rfind(" ", cap - 20, cap)
    cut = cut if cut > 0 else cap
    return f"{flat[:cut].rstrip()} [... {len(flat) - cut} more characters]"


def _assemble(header: str, lines: list[str], footer: str) -> str:
    text = header + "\n" + "\n".join(lines)
    return text + "\n\n" + footer if footer else text


def _omit_middle(header: str, lines: list[str], footer: str, max_tokens: int, count: TokenCounter) -> str:
    """Keep as many turns as fit, a third from the start and the rest from the end."""
    total = len(lines)
    line_costs = [count(line) + 1 for line in lines]
    fixed = count(_assemble(header, [_marker(total, 1, total)], footer))
    candidate = _assemble(header, [_marker(total, 1, total)], footer)
    for keep in range(total - 1, 0, -1):
        head = max(1, keep // 3) if keep > 1 else 0
        tail = keep - head
        estimate = fixed + sum(line_costs[:head]) + sum(line_costs[total - tail :])
        if estimate > max_tokens + 4:
            continue
        kept = lines[:head] + [_marker(total - keep, head + 1, total - tail)] + lines[total - tail :]
        text = _assemble(header, kept, footer)
        if count(text) <= max_tokens:
            return text
    return candidate


def _marker(omitted: int, first: int, last: int) -> str:
    noun = "turn" if omitted == 1 else "turns"
    where = f"turn {first}" if first == last else f"turns {first}-{last}"
    return f"[... {omitted} {noun} omitted ({where}) ...]"
