"""Did a tool call find nothing? Read from its output: an answer that is not a failure, but empty.

A search or lookup that comes back empty is not an error (the tool worked; see `tool_errors`), yet an
agent that keeps getting empty answers while rewording its query is stuck as surely as one repeating a
call word for word. An output is *empty* when it starts by saying so: "Could not find [X]" (the
Wikipedia search of ReAct/Reflexion agents), "No results", "No matches found", "Nothing found",
"0 results", "not found", or when it is blank. Outputs that are errors are left to the error counts.
"""

from __future__ import annotations

import re

from smolgepa.traces.trace_model import ToolResult, Trace

_EMPTY_START = re.compile(
    r"[\s\"'\[(]*(?:could not find|couldn't find|no (?:results?|matches?|matching|hits?|entries|pages?|items?)\b"
    r"|nothing (?:found|matched)|0 (?:results?|matches?|hits?)\b|not found\b|found nothing|no such (?:page|entry))",
    re.IGNORECASE,
)
# A short label in words before the answer itself ("Search results: no results for ...").
_LABEL = re.compile(r"[A-Za-z][A-Za-z ]{0,30}[:>]\s*")


def looks_empty(result: ToolResult) -> bool:
    """Whether a tool's non-error result says it found nothing (or is blank)."""
    if result.error:
        return False
    text = result.output.strip()
    if not text:
        return True
    label = _LABEL.match(text)
    return bool(_EMPTY_START.match(text) or (label and _EMPTY_START.match(text, label.end())))


def longest_empty_run(trace: Trace) -> int:
    """The most consecutive tool results that found nothing (no result of another kind in between)."""
    best = current = 0
    for turn in trace.turns:
        if isinstance(turn, ToolResult):
            current = current + 1 if looks_empty(turn) else 0
            best = max(best, current)
    return best
