"""Build a Trace turn by turn, as the log-format converters (`openai_chat.py`, `anthropic_messages.py`, ...) read it."""

from __future__ import annotations

import json
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.trace_model import Message, ToolCall, ToolResult, Trace, Turn, UserMessage
from smolgepa.traces.tool_errors import looks_like_error


class IncompleteTraceError(SmolgepaError):
    """The messages hold no trace yet (no request, or nothing the agent did): a log still being
    written may become one."""


class TraceBuilder:
    """The user's first request becomes the trace's task; calls, results, messages and later user
    messages become turns. A result names its tool through the id of the call it answers."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.task = ""
        self.turns: list[Turn] = []
        self._tools: dict[str, str] = {}  # call id -> tool name

    def user(self, text: str) -> None:
        """A user message: the first is the request (text before the agent's first turn joins it);
        later ones are turns."""
        text = text.strip()
        if not text:
            return
        if not self.turns:
            self.task = f"{self.task}\n{text}" if self.task else text
        else:
            self.turns.append(UserMessage(text))

    def know_calls(self, tools: dict[str, str]) -> None:
        """Call ids and their tools, for logs that write a result before the call it answers."""
        self._tools.update({key: name.strip() for key, name in tools.items() if name.strip()})

    def call(self, name: str, args: Any, thought: str = "", call_id: str | None = None) -> None:
        if not name.strip():
            raise SmolgepaError(f"{self.where}: turn {len(self.turns) + 1}: a tool call without a tool name.")
        if call_id:
            self._tools[call_id] = name.strip()
        self.turns.append(ToolCall(name.strip(), tool_args(args), thought.strip()))

    def result(self, output: str, call_id: str | list[str] | None = None, name: str | None = None,
               error: bool | None = None, read_output: bool = True) -> None:
        """A tool's output; `error` None means: read it from the output (`tool_errors.looks_like_error`),
        which also flags an output the log marks as a success (unless `read_output` is False: then the
        log's own `error` alone decides). An output answering a list of call ids is the result of each
        of those calls."""
        failed = bool(error) or (read_output and looks_like_error(output))
        ids = [str(key) for key in call_id] if isinstance(call_id, list) else [call_id or ""]
        for key in ids or [""]:
            tool = name or self._tools.get(key) or self._last_tool()
            self.turns.append(ToolResult(tool, output.strip(), failed))

    def message(self, text: str) -> None:
        if text.strip():
            self.turns.append(Message(text.strip()))

    def trace(self) -> Trace:
        if not self.task:
            raise IncompleteTraceError(f"{self.where}: no user message with text: a trace needs the user's request.")
        if not self.turns:
            raise IncompleteTraceError(f"{self.where}: the agent did nothing (no tool calls or messages after the request).")
        return Trace(self.task, tuple(self.turns))

    def _last_tool(self) -> str:
        last = next((turn for turn in reversed(self.turns) if isinstance(turn, ToolCall)), None)
        return last.tool if last else "tool"


def tool_args(args: Any) -> dict[str, Any]:
    """Arguments as a JSON object: a JSON string is decoded; anything else is kept under `input`."""
    if isinstance(args, str):
        try:
            decoded = json.loads(args) if args.strip() else {}
        except ValueError:
            return {"input": args}
        args = decoded
    if isinstance(args, dict):
        return {str(key): value for key, value in args.items()}
    return {} if args is None else {"input": args}


def text_of(content: Any, kinds: tuple[str, ...] = ("text",)) -> str:
    """The text of a message's content: a string, or the text of its parts of the given `type`s."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") or part.get("thinking") or "" for part in content
                 if isinstance(part, dict) and part.get("type") in kinds]
        parts += [part for part in content if isinstance(part, str)]
        return "\n".join(part for part in parts if part)
    if isinstance(content, dict) and "type" in content:
        return text_of([content], kinds)
    return json.dumps(content, ensure_ascii=False)
