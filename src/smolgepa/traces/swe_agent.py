"""SWE-agent trajectory files (`.traj`) as a Trace.

A `.traj` file is an object with `trajectory`, a list of steps `{"thought", "action", "observation",
"response", ...}`, and `history`, the chat the model saw, whose user turns carry the observations.
- the task is the last user message of `history` before the model's first reply (the instance prompt;
  demonstrations and the system prompt come before it);
- each step's `action` (a shell or tool command such as `open file.py 10` or `edit 3:5 ...`) is a tool
  call named by its first word, the rest of the command its `args`; its `thought` is the call's thought;
- its `observation` is the call's result, failed when it reads as one (`tool_errors.looks_like_error`:
  a traceback, "command not found", "Your proposed edit has introduced new syntax error(s)", ...);
- a step without an action is a message (its thought).
"""

from __future__ import annotations

from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.building import TraceBuilder, text_of
from smolgepa.traces.conversations import Conversation
from smolgepa.traces.trace_model import Trace


def from_swe_agent(conversation: Conversation) -> Trace:
    """The Trace of one SWE-agent trajectory."""
    build = TraceBuilder(conversation.where)
    build.user(_task(conversation.record, conversation.where))
    for number, step in enumerate(conversation.messages, start=1):
        if not isinstance(step, dict):
            raise SmolgepaError(f"{conversation.where}: trajectory step {number} is not an object with "
                                "'action' and 'observation'.")
        action = str(step.get("action") or "").strip()
        thought = str(step.get("thought") or "")
        if not action:
            build.message(thought or str(step.get("response") or ""))
            continue
        tool, _, rest = action.partition(" ") if "\n" not in action.split(" ", 1)[0] else action.partition("\n")
        build.call(tool, {"args": rest.strip()} if rest.strip() else {}, thought)
        build.result(text_of(step.get("observation")))
    return build.trace()


def _task(record: dict[str, Any], where: str) -> str:
    history = record.get("history")
    if isinstance(history, list):
        before_reply = []
        for message in history:
            if not isinstance(message, dict):
                continue
            if message.get("role") == "assistant":
                break
            if message.get("role") == "user" and not message.get("is_demo"):
                before_reply.append(text_of(message.get("content")))
        if before_reply and before_reply[-1].strip():
            return before_reply[-1]
    statement = record.get("problem_statement")
    if isinstance(statement, str) and statement.strip():
        return statement
    raise SmolgepaError(f"{where}: no task found: a SWE-agent .traj file has the instance prompt as a user "
                        "message in 'history' before the model's first reply.")
