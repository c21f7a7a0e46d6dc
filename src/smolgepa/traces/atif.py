"""Agent Trajectory Interchange Format (ATIF, Harbor's trajectory.json) as a Trace.

A trajectory is an object with `schema_version`, `session_id`, `agent` and `steps`; each step has a
`source` (`system`, `user` or `agent`) and a `message`:
- `user` steps: the first is the trace's task, later ones are user turns;
- `agent` steps: each entry of `tool_calls` (`function_name`, `arguments`, `tool_call_id`) is a tool
  call, the step's `reasoning_content` and `message` the first call's thought; a step without calls is
  a message; its `observation.results` (`source_call_id`, `content`) are the calls' results;
- `system` steps are left out, except their observations (some loggers write each tool result as a
  system step whose `observation` holds `content` and a `result` with `success`).
Loggers that write `name`/`id` instead of `function_name`/`tool_call_id` are read too; a result
written before its call still names the call's tool.
"""

from __future__ import annotations

import json
import re
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.building import TraceBuilder, text_of
from smolgepa.traces.conversations import Conversation
from smolgepa.traces.trace_model import Trace

SOURCES = ("system", "user", "agent")
RESULT_FOR = re.compile(r"\s*Tool result for (\S+)")


def from_atif(conversation: Conversation) -> Trace:
    """The Trace of one ATIF trajectory (its `steps`)."""
    build = TraceBuilder(conversation.where)
    build.know_calls(_call_names(conversation.messages))
    for number, step in enumerate(conversation.messages, start=1):
        where = f"{conversation.where}: step {number}"
        source = step.get("source") if isinstance(step, dict) else None
        if source not in SOURCES:
            raise SmolgepaError(f"{where}: 'source' must be one of {', '.join(SOURCES)}, got {source!r} "
                                "(is this an ATIF trajectory.json?).")
        if source == "user":
            build.user(text_of(step.get("message")))
        elif source == "agent":
            _agent(build, step, where)
        _observation(build, step.get("observation"), text_of(step.get("message")))
    return build.trace()


def _call_names(steps: tuple[Any, ...]) -> dict[str, str]:
    names = {}
    for step in steps:
        for call in (step.get("tool_calls") or []) if isinstance(step, dict) else []:
            if isinstance(call, dict):
                key, name = call.get("tool_call_id") or call.get("id"), call.get("function_name") or call.get("name")
                if isinstance(key, str) and isinstance(name, str):
                    names[key] = name
    return names


def _agent(build: TraceBuilder, step: dict[str, Any], where: str) -> None:
    text = text_of(step.get("message"))
    reasoning = str(step.get("reasoning_content") or "")
    calls = step.get("tool_calls") or []
    if not calls:
        build.message(text or reasoning)
        return
    thought = "\n".join(part for part in (reasoning, text) if part.strip())
    for index, call in enumerate(calls):
        name = call.get("function_name") or call.get("name") if isinstance(call, dict) else None
        if not isinstance(name, str):
            raise SmolgepaError(f"{where}: tool_calls[{index}] has no 'function_name'.")
        build.call(name, call.get("arguments"), thought if index == 0 else "",
                   call.get("tool_call_id") or call.get("id"))


def _observation(build: TraceBuilder, observation: Any, message: str) -> None:
    if not isinstance(observation, dict):
        return
    results = observation.get("results")
    if isinstance(results, list):
        for result in results:
            if isinstance(result, dict) and ("content" in result or "source_call_id" in result):
                extra = result.get("extra") if isinstance(result.get("extra"), dict) else {}
                build.result(_content(result.get("content")), result.get("source_call_id"),
                             error=True if extra.get("is_error") is True else None)
        return
    if "content" in observation:  # one result per system step, with the call id in its message
        outcome = observation.get("result") if isinstance(observation.get("result"), dict) else {}
        flag = outcome.get("success")
        named = RESULT_FOR.match(message)
        call_id = observation.get("source_call_id") or (named.group(1) if named else None)
        build.result(_content(observation.get("content")), call_id,
                     error=(flag is False) if isinstance(flag, bool) else None)


def _content(value: Any) -> str:
    """A result's content: text, text parts, or any other JSON value written out."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, list) and all(isinstance(part, dict) and "type" in part for part in value):
        return text_of(value)
    return json.dumps(value, ensure_ascii=False)
