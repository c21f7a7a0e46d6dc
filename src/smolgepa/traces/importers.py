"""Agent logs in other formats as traces: the registry of formats and the one import function.

`import_traces(path, "openai-chat")` reads every conversation of a JSON or JSONL file
(`conversations.py`; every episode of a ReAct text log, `react_log.py`) and converts each with its format's converter; the result lines
`{"id": ..., "trace": {...}}` are what a trace task's data file and `smolgepa predict` read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.anthropic_messages import from_anthropic
from smolgepa.traces.atif import from_atif
from smolgepa.traces.conversations import CHAT_KEYS, Conversation, read_conversations
from smolgepa.traces.mini_swe_agent import from_mini_swe_agent
from smolgepa.traces.openai_chat import from_openai_chat
from smolgepa.traces.react_log import from_react, read_react_log
from smolgepa.traces.swe_agent import from_swe_agent
from smolgepa.traces.trace_model import Trace, parse_trace

Converter = Callable[[Conversation], Trace]
Reader = Callable[[Path, tuple[str, ...]], list[Conversation]]


@dataclass(frozen=True)
class LogFormat:
    """A converter, the keys under which its files hold a conversation's messages (or steps), and
    the reader of its files (JSON or JSONL conversations, unless the format is text)."""

    convert: Converter
    keys: tuple[str, ...]
    read: Reader = read_conversations


FORMATS: dict[str, LogFormat] = {
    "openai-chat": LogFormat(from_openai_chat, CHAT_KEYS),
    "anthropic": LogFormat(from_anthropic, CHAT_KEYS),
    "atif": LogFormat(from_atif, ("steps",)),
    "swe-agent": LogFormat(from_swe_agent, ("trajectory",)),
    "mini-swe-agent": LogFormat(from_mini_swe_agent, CHAT_KEYS),
    "react": LogFormat(from_react, (), read_react_log),
}


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


def import_traces(path: str | Path, log_format: str, messages_key: str | None = None) -> list[ImportedTrace]:
    """Every conversation of `path` in `log_format` (a key of FORMATS) as a validated trace;
    `messages_key` names the key holding each conversation's messages when it is not the format's own."""
    chosen = FORMATS.get(log_format)
    if chosen is None:
        raise SmolgepaError(f"Unknown log format {log_format!r}. Available: {', '.join(FORMATS)}.")
    if messages_key and not chosen.keys:
        raise SmolgepaError(f"--messages-key does not apply to {log_format!r}: its logs are text, not JSON messages.")
    keys = (messages_key,) if messages_key else chosen.keys
    result = []
    for conversation in chosen.read(Path(path), keys):
        trace = chosen.convert(conversation)
        parse_trace(trace.to_dict(), conversation.where)  # what a task file would refuse is refused here
        result.append(ImportedTrace(conversation.id, trace))
    return result
