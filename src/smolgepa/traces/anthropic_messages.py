"""Anthropic Messages API transcripts (Claude agents, Claude Code's API logs) as a Trace.

Each message has `role` `user` or `assistant` and `content`, a string or a list of blocks:
- `text` in the first user message: the trace's task; later user text is left out;
- `thinking` and `text` blocks of an assistant message before a `tool_use`: that call's thought;
  an assistant message without a `tool_use`: a message (its text, else its thinking);
- `tool_use` (`name`, `input`): a tool call; `tool_result` (`tool_use_id`, `content`, `is_error`) in the
  next user message: its result, failed when `is_error` is true or its text reads as a failure
  (`tool_errors.looks_like_error`).
A top-level `system` prompt is left out.
"""

from __future__ import annotations

from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.building import TraceBuilder, text_of
from smolgepa.traces.conversations import Conversation
from smolgepa.traces.trace_model import Trace


def from_anthropic(conversation: Conversation) -> Trace:
    """The Trace of one conversation in Anthropic Messages format."""
    build = TraceBuilder(conversation.where)
    for number, message in enumerate(conversation.messages, start=1):
        where = f"{conversation.where}: message {number}"
        role = message.get("role") if isinstance(message, dict) else None
        blocks = _blocks(message.get("content") if isinstance(message, dict) else None)
        if role == "user":
            _user(build, blocks)
        elif role == "assistant":
            _assistant(build, blocks, where)
        elif role != "system":
            raise SmolgepaError(f"{where}: unknown role {role!r}; Anthropic messages have the roles user and assistant.")
    return build.trace()


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or [] if isinstance(block, dict)]


def _user(build: TraceBuilder, blocks: list[dict[str, Any]]) -> None:
    for block in blocks:
        if block.get("type") == "tool_result":
            flag = block.get("is_error")
            build.result(text_of(block.get("content")), block.get("tool_use_id"),
                         error=True if flag is True else None)
        elif block.get("type") == "text":
            build.user(str(block.get("text") or ""))


def _assistant(build: TraceBuilder, blocks: list[dict[str, Any]], where: str) -> None:
    pending: list[str] = []  # thinking and text since the last tool call
    called = False
    for block in blocks:
        kind = block.get("type")
        if kind in ("text", "thinking"):
            pending.append(str(block.get("text") or block.get("thinking") or ""))
        elif kind in ("tool_use", "server_tool_use"):
            name = block.get("name")
            if not isinstance(name, str):
                raise SmolgepaError(f"{where}: a tool_use block without a 'name'.")
            build.call(name, block.get("input"), "\n".join(p for p in pending if p.strip()), block.get("id"))
            pending, called = [], True
    if pending and not called:
        text = "\n".join(b.get("text") or "" for b in blocks if b.get("type") == "text").strip()
        build.message(text or "\n".join(pending))
    elif pending:
        build.message("\n".join(p for p in pending if p.strip()))
