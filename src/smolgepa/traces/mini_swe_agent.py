"""mini-swe-agent's text-action trajectories (`.traj.json`, format `mini-swe-agent-1`, and v2 text mode) as a Trace.

These files hold OpenAI-style `messages`, but the agent writes its command in the assistant's text, in
one fenced block (```` ```bash ```` in v1, ```` ```mswea_bash_command ```` in v2's text mode), after a
"THOUGHT:" section, and the framework answers with a user message: the command's output
(`<returncode>N</returncode>` then `<output>...`), or a format error when the reply did not hold
exactly one block ("Please always provide EXACTLY ONE action in triple backticks, found 2 actions.").
- the first user message is the task; system messages are left out;
- an assistant reply with exactly one block is a `bash` call `{"command": ...}`, the text before the
  block its thought (without the "THOUGHT:" label), and the next user message its result (failed when it
  reads as one: a non-zero return code, a traceback...);
- an assistant reply with no block or several is a message, and the next user message (the framework's
  format error) a user turn, as "Tool call error" turns are in the tool-calling format;
- mini-swe-agent's closing `exit` message is left out.
"""

from __future__ import annotations

import re
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.building import TraceBuilder, text_of
from smolgepa.traces.conversations import Conversation
from smolgepa.traces.trace_model import Trace

ACTION = re.compile(r"```(?:bash|mswea_bash_command)[ \t]*\n(.*?)\n?```", re.DOTALL)
THOUGHT_LABEL = re.compile(r"^\s*THOUGHT\s*:\s*", re.IGNORECASE)
SKIPPED_ROLES = ("system", "developer", "exit")


def from_mini_swe_agent(conversation: Conversation) -> Trace:
    """The Trace of one mini-swe-agent text-action trajectory."""
    build = TraceBuilder(conversation.where)
    answered = True  # whether the last assistant reply was a call whose result is still to come
    for number, message in enumerate(conversation.messages, start=1):
        where = f"{conversation.where}: message {number}"
        role = message.get("role") if isinstance(message, dict) else None
        text = text_of(message.get("content")) if isinstance(message, dict) else ""
        if role == "assistant":
            answered = _assistant(build, text, message)
        elif role in ("user", "tool"):
            if not answered:
                build.result(text)
                answered = True
            else:
                build.user(text)
        elif role not in SKIPPED_ROLES:
            raise SmolgepaError(f"{where}: unknown role {role!r}; mini-swe-agent trajectories have the roles "
                                "system, user and assistant.")
    return build.trace()


def _assistant(build: TraceBuilder, text: str, message: dict[str, Any]) -> bool:
    """Add the reply; True when it is complete (a message), False when a call awaits its result."""
    actions = ACTION.findall(text)
    reasoning = str(message.get("reasoning_content") or message.get("reasoning") or "")
    if len(actions) != 1:
        build.message("\n".join(part for part in (reasoning, text) if part.strip()))
        return True
    thought = THOUGHT_LABEL.sub("", text[:text.find("```")]).strip()
    thought = "\n".join(part for part in (reasoning, thought) if part.strip())
    build.call("bash", {"command": actions[0].strip()}, thought)
    return False
