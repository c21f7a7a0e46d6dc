"""The `summary` rendering: a few short lines of counted evidence instead of the transcript.

A 135M model reads a 700-token transcript badly and cannot count in it; the summary gives it the
counts directly, one figure per line, each line starting with the figure's name from
`traces.figures` so that a counting rule can point at it:

    Task: Fix the failing date test in utils.
    Calls: 9, first read_file(path="utils.py"), last run_tests
    Tools: 2 (run_tests, read_file)
    Same call repeated: 5
    ...

Deterministic, and within `SUMMARY_MAX_TOKENS` by the project's token counter: when the lines do
not fit, the free text in them (task, arguments, error text, tool names) is clipped harder.
"""

from __future__ import annotations

import json

from smolgepa.traces.evidence import Evidence, collect_evidence
from smolgepa.traces.figures import BY_KEY, figures
from smolgepa.traces.trace_model import ToolCall, Trace
from smolgepa.lm.token_count import TokenCounter, approx_tokens

SUMMARY_MAX_TOKENS = 110  # the project's approximate count (the empty-results line added 10 to the first 100); SmolLM2's own count is about 10% lower
# (task, call arguments, error text, tool names, called tool) caps in characters, tried in order.
CAPS: tuple[tuple[int, int, int, int, int], ...] = (
    (60, 20, 40, 40, 30), (45, 0, 40, 30, 30), (30, 0, 40, 20, 30), (20, 0, 30, 0, 30), (20, 0, 20, 0, 30),
    (20, 0, 0, 0, 30), (20, 0, 0, 0, 12),
)


def render_summary(trace: Trace, max_tokens: int = SUMMARY_MAX_TOKENS, count_tokens: TokenCounter | None = None) -> str:
    """The evidence summary of `trace`, within `max_tokens` unless even the tightest caps do not fit."""
    count = count_tokens or approx_tokens
    evidence = collect_evidence(trace)
    text = ""
    for caps in CAPS:
        text = "\n".join(summary_lines(trace, evidence, *caps))
        if count(text) <= max_tokens:
            return text
    return text


def summary_lines(trace: Trace, evidence: Evidence, task_cap: int, args_cap: int, error_cap: int,
                  tools_cap: int, call_cap: int) -> list[str]:
    """The summary's lines with the given caps on free text."""
    values = figures(trace, evidence)
    calls = [turn for turn in trace.turns if isinstance(turn, ToolCall)]
    tools = list(dict.fromkeys(call.tool for call in calls))

    def line(key: str, rest: str) -> str:
        return f"{BY_KEY[key].line}: {rest}"

    lines = [f"Task: {_clip(trace.task, task_cap)}"]
    ends = f", first {_call(calls[0], args_cap, call_cap)}, last {_call(calls[-1], args_cap, call_cap)}" if calls else ""
    lines.append(line("calls", f"{int(values['calls'])}{ends}"))
    named = f" ({_clip(', '.join(tools), tools_cap)})" if tools and tools_cap else ""
    lines.append(line("tools", f"{int(values['tools'])}{named}"))
    for key in ("same_call", "near_call", "empty_results", "errors"):
        lines.append(line(key, str(int(values[key]))))
    repeated = str(int(values["same_error"]))
    if values["same_error"] > 1 and error_cap:
        repeated += f' ("{_clip(evidence.repeated_error_text, error_cap)}")'
    lines.append(line("same_error", repeated))
    lines.append(line("words_per_call", str(int(values["words_per_call"]))))
    lines.append(line("messages_in_a_row", str(int(values["messages_in_a_row"]))))
    return lines


def _call(call: ToolCall, args_cap: int, name_cap: int) -> str:
    name = _clip(call.tool, name_cap)
    if not args_cap or not call.args:
        return name
    args = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in call.args.items())
    return f"{name}({_clip(args, args_cap)})"


def _clip(text: str, cap: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= cap:
        return flat
    cut = flat.rfind(" ", cap // 2, cap - 3)
    return flat[: cut if cut > 0 else cap - 3].rstrip(" ,.;:") + "..."
