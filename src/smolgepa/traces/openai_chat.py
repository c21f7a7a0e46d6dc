"""OpenAI-style chat messages (Chat Completions, and the many agents that log in its shape) as a Trace.

- `user`: the first one's text is the trace's task; later user messages are turns of their own.
- `assistant` with `tool_calls`: one tool call per entry (`function.name`, `function.arguments` decoded
  from JSON); the message's text (or `reasoning_content`/`reasoning`) is the first call's thought.
  The older `function_call` field is read the same way.
- `assistant` without calls: a message (its text, or its reasoning when the text is empty).
- `tool` (or the older `function`): the result of the call with that `tool_call_id` (of each call,
  for a list under `tool_call_ids`); whether it failed is read from its text
  (`tool_errors.looks_like_error`); an `is_error`/`error` flag wins.
- `system` and `developer` messages, and mini-swe-agent's closing `exit` message, are left out.
A history without any tool call whose later user messages carry the observations (SWE-agent's and
mini-swe-agent v1's convention: commands in the assistant's text) is refused, naming the format to use.
"""

from __future__ import annotations

from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.building import TraceBuilder, text_of
from smolgepa.traces.conversations import Conversation
from smolgepa.traces.trace_model import ToolCall, Trace, UserMessage

SKIPPED_ROLES = ("system", "developer", "exit")


def from_openai_chat(conversation: Conversation) -> Trace:
    """The Trace of one conversation in OpenAI chat format."""
    build = TraceBuilder(conversation.where)
    for number, message in enumerate(conversation.messages, start=1):
        where = f"{conversation.where}: message {number}"
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            build.user(text_of(message.get("content")))
        elif role == "assistant":
            _assistant(build, message, where)
        elif role in ("tool", "function"):
            flag = message.get("is_error", message.get("error"))
            ids = message.get("tool_call_id") or message.get("tool_call_ids")
            build.result(text_of(message.get("content")), ids, message.get("name"),
                         flag if isinstance(flag, bool) else None)
        elif role not in SKIPPED_ROLES:
            raise SmolgepaError(f"{where}: unknown role {role!r}; OpenAI chat messages have the roles "
                                "system, developer, user, assistant and tool.")
    trace = build.trace()
    refuse_text_actions(trace, conversation.where)
    return trace


def refuse_text_actions(trace: Trace, where: str) -> None:
    """Refuse a history with no tool call whose later user messages carry the tools' output."""
    users = sum(isinstance(turn, UserMessage) for turn in trace.turns)
    if users and not any(isinstance(turn, ToolCall) for turn in trace.turns):
        raise SmolgepaError(
            f"{where}: no tool calls, but {users} user message(s) after the request: this history writes its "
            "commands in the assistant's text and returns their output as user messages (SWE-agent, "
            "mini-swe-agent v1), so importing it as chat would drop every action. Import the agent's "
            "trajectory file instead: --from swe-agent for a SWE-agent .traj file, --from mini-swe-agent for "
            "a mini-swe-agent text-action .traj.json.")


def _assistant(build: TraceBuilder, message: dict[str, Any], where: str) -> None:
    text = text_of(message.get("content"))
    reasoning = str(message.get("reasoning_content") or message.get("reasoning") or "")
    calls = list(message.get("tool_calls") or [])
    if isinstance(message.get("function_call"), dict):
        calls.append({"function": message["function_call"]})
    if not calls:
        build.message(text or reasoning)
        return
    thought = "\n".join(part for part in (reasoning, text) if part.strip())
    for index, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise SmolgepaError(f"{where}: tool_calls[{index}] has no 'function' object with 'name' and 'arguments'.")
        build.call(str(function.get("name") or ""), function.get("arguments"), thought if index == 0 else "",
                   call.get("id"))
