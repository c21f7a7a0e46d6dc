"""The trace so far of a log an agent is still writing, fed one complete line at a time (`smolgepa watch`).

In the trace format (no `log_format`), a line is one of:
- the request, `{"task": "..."}` (optionally with `"id"`): a new trace starts;
- one turn, `{"role": "assistant", "tool": ..., "args": {...}}` and the other turn shapes of
  `trace_model`: appended to the trace;
- a whole trace, `{"task": ..., "turns": [...]}` or `{"id": ..., "trace": {...}}` (what `traces import`
  writes): it replaces the trace read so far (a logger that rewrites the whole trace each step).

With `log_format` `openai-chat` or `anthropic`, a line is one chat message (appended to the
conversation) or a whole conversation (it replaces it), converted as `traces import --from` converts it.

A bad line is refused with one message (file, line, what is wrong, what to do) and leaves the trace as
it was. A conversation that holds no trace yet (no request, nothing done) is not an error: its trace
is None until it does.
"""

from __future__ import annotations

import json
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.building import IncompleteTraceError
from smolgepa.traces.conversations import CHAT_KEYS, ID_KEYS, Conversation, is_conversation
from smolgepa.traces.trace_model import Message, ToolCall, Trace, Turn, parse_trace, parse_turn

# The chat formats whose logs grow by one message a line (ATIF and SWE-agent files are rewritten whole),
# each with a request and a tool call to read one message after, on its own.
PRELUDES: dict[str, list[dict[str, Any]]] = {
    "openai-chat": [{"role": "user", "content": "(request)"},
                    {"role": "assistant", "tool_calls": [{"id": "(call)", "function": {"name": "tool", "arguments": "{}"}}]}],
    "anthropic": [{"role": "user", "content": "(request)"},
                  {"role": "assistant", "content": [{"type": "tool_use", "id": "(call)", "name": "tool", "input": {}}]}],
}
LINE_FORMATS = tuple(PRELUDES)
LINE_HINT = ('Each line is the request {"task": "..."}, one turn ({"role": "assistant", "tool": ..., "args": {...}}, '
             '{"role": "tool", "name": ..., "output": ...} or {"role": "assistant"|"user", "content": ...}) '
             'or a whole trace {"task": ..., "turns": [...]}.')


class TraceFeed:
    """The trace of a growing log (`add` each complete line, read `trace`)."""

    def __init__(self, source: str, log_format: str | None = None) -> None:
        if log_format is not None and log_format not in LINE_FORMATS:
            raise SmolgepaError(f"`watch --from {log_format}` is not supported: it follows logs written one message "
                                f"a line ({', '.join(LINE_FORMATS)}); convert other logs with `smolgepa traces import`.")
        self.source = source
        self.log_format = log_format
        self.id: str | None = None
        self.task = ""
        self.turns: list[Turn] = []
        self.messages: list[Any] = []  # the conversation so far (chat formats)
        self._chat_trace: Trace | None = None

    @property
    def trace(self) -> Trace | None:
        """The trace read so far (None until it has a request and a turn)."""
        if self.log_format is not None:
            return self._chat_trace
        return Trace(self.task, tuple(self.turns)) if self.task and self.turns else None

    def reset(self) -> None:
        """Forget everything read (the file was truncated or replaced)."""
        self.id, self.task, self.turns, self.messages, self._chat_trace = None, "", [], [], None

    def add(self, number: int, line: str) -> str | None:
        """Read line `number`; the message saying why it was refused (None when it was read)."""
        where = f"{self.source}:{number}"
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            return (f"{where}: malformed JSON ({exc}); the line is skipped. Write each line as one JSON object "
                    "ending with a newline.")
        try:
            if self.log_format is None:
                self._add_trace_line(row, where)
            else:
                self._add_chat_line(row, where)
        except SmolgepaError as exc:
            return f"{exc} The line is skipped."
        return None

    def _add_trace_line(self, row: Any, where: str) -> None:
        if not isinstance(row, dict):
            raise SmolgepaError(f"{where}: a line must be a JSON object. {LINE_HINT}")
        if "trace" in row or "turns" in row:
            whole = row.get("trace", {key: value for key, value in row.items() if key != "id"})
            trace = parse_trace(whole, where)
            self.id, self.task, self.turns = _line_id(row), trace.task, list(trace.turns)
        elif "role" in row:
            turn = parse_turn(row, where)
            if not self.task:
                raise SmolgepaError(f"{where}: a turn before the request: the first line is the request "
                                    '{"task": "..."}, then one turn a line.')
            self.turns.append(turn)
        elif "task" in row:
            task = row["task"]
            unknown = sorted(set(row) - {"task", "id"})
            if not isinstance(task, str) or not task.strip() or unknown:
                raise SmolgepaError(f"{where}: the request line is {{\"task\": \"<the user's request>\"}} "
                                    f"(optionally with \"id\"){'; unknown keys ' + ', '.join(unknown) if unknown else ''}.")
            self.id, self.task, self.turns = _line_id(row), task.strip(), []
        else:
            keys = ", ".join(map(repr, list(row)[:8])) or "none"
            raise SmolgepaError(f"{where}: not a trace line (its keys: {keys}). {LINE_HINT}")

    def _add_chat_line(self, row: Any, where: str) -> None:
        if is_conversation(row, CHAT_KEYS):
            messages = row if isinstance(row, list) else _messages(row)
            trace = self._convert(messages, where, row if isinstance(row, dict) else {})
            self.messages, self.id = list(messages), _line_id(row) if isinstance(row, dict) else None
            self._chat_trace = trace
            return
        if not isinstance(row, dict) or "role" not in row:
            raise SmolgepaError(f"{where}: a line must be one {self.log_format} message (an object with 'role') "
                                f"or a whole conversation (a list of messages, or an object with them under 'messages').")
        # The message on its own, after a request and a call, tells a malformed message from a log that
        # is not a trace yet (or not one at this moment: user turns before the first call are refused).
        prelude = PRELUDES[self.log_format]
        try:
            self._convert([*prelude, row], where, {})
        except SmolgepaError as exc:
            raise SmolgepaError(str(exc).replace(f"{where}: message {len(prelude) + 1}", where)) from None
        self.messages.append(row)
        try:
            self._chat_trace = self._convert(self.messages, where, {}) or self._chat_trace
        except SmolgepaError:
            pass  # the trace so far stays until the conversation reads as one again

    def _convert(self, messages: list[Any], where: str, record: dict[str, Any]) -> Trace | None:
        """The trace of `messages` (None while it holds none yet); a malformed message raises."""
        from smolgepa.traces.importers import FORMATS

        assert self.log_format is not None
        conversation = Conversation(self.id or "watched", tuple(messages), where, record)
        try:
            trace = FORMATS[self.log_format].convert(conversation)
        except IncompleteTraceError:
            return None
        parse_trace(trace.to_dict(), where)
        return trace


def agent_steps(trace: Trace | None) -> int:
    """The agent's steps in a trace: its tool calls and messages."""
    return sum(isinstance(turn, (ToolCall, Message)) for turn in trace.turns) if trace else 0


def _messages(row: dict[str, Any]) -> list[Any]:
    return next(row[key] for key in CHAT_KEYS if isinstance(row.get(key), list))


def _line_id(row: dict[str, Any]) -> str | None:
    given = next((row[key] for key in ID_KEYS if isinstance(row.get(key), (str, int))
                  and not isinstance(row.get(key), bool)), None)
    return None if given is None else str(given)
