"""Agent logs in other formats as traces: the registry of formats and the one import function.

`import_traces(path, "openai-chat")` reads every conversation of a JSON or JSONL file
(`conversations.py`) and converts each with its format's converter; the result lines
`{"id": ..., "trace": {...}}` are what a trace task's data file and `smolgepa predict` read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.anthropic_messages import from_anthropic
from smolgepa.traces.conversations import Conversation, read_conversations
from smolgepa.traces.trace_model import Trace, parse_trace
from smolgepa.traces.openai_chat import from_openai_chat

Converter = Callable[[Conversation], Trace]
FORMATS: dict[str, Converter] = {"openai-chat": from_openai_chat, "anthropic": from_anthropic}


@dataclass(frozen=True)
class ImportedTrace:
    """One converted conversation."""

    id: str
    trace: Trace

    def to_json(self, label: str | None = None) -> dict[str, Any]:
        """The JSONL line: `{"id", "trace"}`, with `label` when given (a task's data line)."""
        line: dict[str, Any] = {"id": self.id}
        if label is not None:
            line["label"] = label
        line["trace"] = self.trace.to_dict()
        return line


def import_traces(path: str | Path, log_format: str) -> list[ImportedTrace]:
    """Every conversation of `path` in `log_format` (a key of FORMATS) as a validated trace."""
    convert = FORMATS.get(log_format)
    if convert is None:
        raise SmolgepaError(f"Unknown log format {log_format!r}. Available: {', '.join(FORMATS)}.")
    result = []
    for conversation in read_conversations(path):
        trace = convert(conversation)
        parse_trace(trace.to_dict(), conversation.where)  # what a task file would refuse is refused here
        result.append(ImportedTrace(conversation.id, trace))
    return result
