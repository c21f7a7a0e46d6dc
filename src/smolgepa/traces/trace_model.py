"""The agent-trace data model and its validating parser.

A trace is what an agent did for one user request: a list of turns, each a tool call, a tool result,
a plain assistant message or a later user message. In a task's JSONL file it is a JSON object:

    {"task": "<the user's request>", "turns": [
        {"role": "assistant", "thought": "<optional>", "tool": "<name>", "args": {...}},
        {"role": "tool", "name": "<name>", "output": "<text>", "error": false},
        {"role": "assistant", "content": "<text>"},
        {"role": "user", "content": "<a later user message>"}]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from smolgepa.errors import SmolgepaError

FORMAT_HINT = (
    "Each turn is one of "
    '{"role": "assistant", "thought": "...", "tool": "NAME", "args": {...}}, '
    '{"role": "tool", "name": "NAME", "output": "TEXT", "error": false} or '
    '{"role": "assistant", "content": "TEXT"} or '
    '{"role": "user", "content": "TEXT"} (a user message after the request).'
)


@dataclass(frozen=True)
class ToolCall:
    """The agent calls a tool. `args` is the JSON object of arguments, in the order written."""

    tool: str
    args: dict[str, Any] = field(default_factory=dict, hash=False)
    thought: str = ""


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned; `error` is the tool runner's own failure flag."""

    name: str
    output: str
    error: bool = False


@dataclass(frozen=True)
class Message:
    """An assistant message without a tool call: an answer, a plan, or monologue."""

    content: str


@dataclass(frozen=True)
class UserMessage:
    """A user message after the request: a follow-up, a correction, or the framework speaking as the user."""

    content: str


Turn = Union[ToolCall, ToolResult, Message, UserMessage]


@dataclass(frozen=True)
class Trace:
    """One agent trace: the user's request and the turns that followed."""

    task: str
    turns: tuple[Turn, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form read by `parse_trace` (a round trip gives an equal Trace)."""
        return {"task": self.task, "turns": [_turn_to_dict(turn) for turn in self.turns]}


def _turn_to_dict(turn: Turn) -> dict[str, Any]:
    if isinstance(turn, ToolCall):
        data: dict[str, Any] = {"role": "assistant"}
        if turn.thought:
            data["thought"] = turn.thought
        data["tool"] = turn.tool
        data["args"] = turn.args
        return data
    if isinstance(turn, ToolResult):
        return {"role": "tool", "name": turn.name, "output": turn.output, "error": turn.error}
    if isinstance(turn, UserMessage):
        return {"role": "user", "content": turn.content}
    return {"role": "assistant", "content": turn.content}


_CALL_KEYS = {"role", "thought", "tool", "args"}
_RESULT_KEYS = {"role", "name", "output", "error"}
_MESSAGE_KEYS = {"role", "content"}


def parse_trace(value: Any, where: str) -> Trace:
    """Validate a trace read from JSON; `where` (e.g. 'file.jsonl:12') prefixes every error."""
    if not isinstance(value, dict):
        raise SmolgepaError(
            f"{where}: a trace must be a JSON object with 'task' and 'turns', got {_kind(value)}."
        )
    unknown = sorted(set(value) - {"task", "turns"})
    if unknown:
        raise SmolgepaError(
            f"{where}: unknown trace key(s) {', '.join(map(repr, unknown))}; a trace has 'task' and 'turns'."
        )
    task = value.get("task")
    if not isinstance(task, str) or not task.strip():
        raise SmolgepaError(f"{where}: the trace needs 'task', the user's request as a non-empty string.")
    turns = value.get("turns")
    if not isinstance(turns, list) or not turns:
        raise SmolgepaError(f"{where}: the trace needs 'turns', a non-empty list. {FORMAT_HINT}")
    parsed = [parse_turn(turn, f"{where}: turn {i + 1} (turns[{i}])") for i, turn in enumerate(turns)]
    return Trace(task=task.strip(), turns=tuple(parsed))


def parse_turn(turn: Any, where: str) -> Turn:
    """Validate one turn read from JSON; `where` prefixes every error."""
    if not isinstance(turn, dict):
        raise SmolgepaError(f"{where}: a turn must be a JSON object, got {_kind(turn)}. {FORMAT_HINT}")
    role = turn.get("role")
    if role == "tool":
        return _parse_result(turn, where)
    if role == "user":
        return _parse_user(turn, where)
    if role == "assistant":
        if "tool" in turn or "args" in turn:
            return _parse_call(turn, where)
        return _parse_message(turn, where)
    raise SmolgepaError(f"{where}: 'role' must be \"assistant\", \"tool\" or \"user\", got {role!r}. {FORMAT_HINT}")


def _parse_call(turn: dict[str, Any], where: str) -> ToolCall:
    _check_keys(turn, _CALL_KEYS, where, "a tool call", extra="(put text in 'thought', not 'content')")
    tool = turn.get("tool")
    if not isinstance(tool, str) or not tool.strip():
        raise SmolgepaError(f"{where}: a tool call needs 'tool', the tool's name as a non-empty string.")
    args = turn.get("args", {})
    if not isinstance(args, dict):
        raise SmolgepaError(f"{where}: 'args' must be a JSON object of arguments, got {_kind(args)}.")
    if not all(isinstance(key, str) for key in args):
        raise SmolgepaError(f"{where}: the keys of 'args' must be strings.")
    thought = turn.get("thought", "")
    if thought is None:
        thought = ""
    if not isinstance(thought, str):
        raise SmolgepaError(f"{where}: 'thought' must be a string, got {_kind(thought)}.")
    return ToolCall(tool=tool.strip(), args=args, thought=thought.strip())


def _parse_result(turn: dict[str, Any], where: str) -> ToolResult:
    _check_keys(turn, _RESULT_KEYS, where, "a tool result")
    name = turn.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SmolgepaError(f"{where}: a tool result needs 'name', the tool's name as a non-empty string.")
    if "output" not in turn:
        raise SmolgepaError(f"{where}: a tool result needs 'output' (a string; use \"\" for no output).")
    output = turn["output"]
    if not isinstance(output, str):
        raise SmolgepaError(
            f"{where}: 'output' must be a string, got {_kind(output)}; serialize structured output with json.dumps."
        )
    error = turn.get("error", False)
    if not isinstance(error, bool):
        raise SmolgepaError(f"{where}: 'error' must be true or false, got {error!r}.")
    return ToolResult(name=name.strip(), output=output.strip(), error=error)


def _parse_message(turn: dict[str, Any], where: str) -> Message:
    _check_keys(turn, _MESSAGE_KEYS, where, "an assistant message")
    if "content" not in turn:
        raise SmolgepaError(
            f"{where}: an assistant turn needs 'tool' (a tool call) or 'content' (a message). {FORMAT_HINT}"
        )
    content = turn["content"]
    if not isinstance(content, str) or not content.strip():
        raise SmolgepaError(f"{where}: 'content' must be a non-empty string, got {_kind(content)}.")
    return Message(content=content.strip())


def _parse_user(turn: dict[str, Any], where: str) -> UserMessage:
    _check_keys(turn, _MESSAGE_KEYS, where, "a user message")
    content = turn.get("content")
    if not isinstance(content, str) or not content.strip():
        raise SmolgepaError(f"{where}: a user turn needs 'content', a non-empty string, got {_kind(content)}.")
    return UserMessage(content=content.strip())


def _check_keys(turn: dict[str, Any], allowed: set[str], where: str, what: str, extra: str = "") -> None:
    unknown = sorted(set(turn) - allowed)
    if unknown:
        hint = f" {extra}" if extra else ""
        raise SmolgepaError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} in {what}; "
            f"allowed: {', '.join(sorted(allowed))}{hint}."
        )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string" if value.strip() else "an empty string"
    kinds = {dict: "an object", list: "a list", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)
