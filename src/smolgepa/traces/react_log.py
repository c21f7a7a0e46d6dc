"""ReAct text logs (the Thought / Action / Observation scratchpad of a ReAct agent) as traces.

A ReAct agent (Yao et al., 2022) answers a question by writing numbered steps, as the HotPotQA runs of
the Reflexion repository (noahshinn/reflexion, `hotpotqa_runs/root/ReAct/`) log them, one or many
episodes per text file:

    Question: <the question>[ You have attempted to answer following question before and failed. ...]
    [Reflections:
    - <a reflection on an earlier trial>]
    Thought 1: <reasoning>
    Action 1: Search[<entity>]          (or Lookup[<keyword>], Finish[<answer>])
    Observation 1: <the environment's answer, possibly on several lines>
    ...
    Correct answer: <the gold answer>

with header lines between groups of episodes (`BEGIN TRIAL N`, `Trial summary: ...`, `#####`,
`------------- BEGIN HALTED AGENTS --------------`). Each episode is a trace:
- the task is the question line after "Question:" and, in Reflexion's later trials, the reflections
  the agent was given (what the agent's prompt held before its first step);
- `Action N: Name[argument]` is a call of the tool `Name` (read as the environment reads it: the word
  before the first "[" and everything up to the last "]"), its argument under `entity` (Search),
  `keyword` (Lookup), `answer` (Finish) or `input` (anything else); `Thought N` is its thought;
  an action that is not `Name[...]` is a call named by its first word, the text under `input`;
- `Observation N` is its result (Finish's is the environment's "Answer is CORRECT/INCORRECT");
- a thought without an action (a run halted after thinking) is a message;
- "Correct answer:" (the evaluation's gold answer, never shown to the agent) and the headers are left
  out, and so is an episode with no step (Reflexion logs the questions already solved in earlier
  trials as a bare question).

Which results are errors: only what the environment writes when it could not carry out the action:
"Invalid Action. Valid Actions are ..." (an unknown action type), "The last page Searched was not
found, so you cannot Lookup ..." (Lookup without a page) and "Could not find that page, please try
again." (the search itself raised, e.g. for an argument holding several actions). A search miss,
"Could not find [X]. Similar: [...]", and a Lookup's "No Results" are answers, not errors: the tool
did run and said what it found, as a grep without a match is ordinary output; so is a wrong answer
to Finish. Observations are not read with `tool_errors.looks_like_error`, whose first-line rules
would flag an encyclopaedia page that starts with a word such as "Failure".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.traces.building import TraceBuilder
from smolgepa.traces.conversations import Conversation
from smolgepa.traces.trace_model import Trace

STEP = re.compile(r"^(Thought|Action|Observation) (\d+):[ \t]?(.*)$")
QUESTION = re.compile(r"^Question:[ \t]?(.*)$")
HEADER = re.compile(r"^(?:#{5,}\s*$|BEGIN TRIAL (\d+)\b|Trial summary:|-{5,} BEGIN (\w+) AGENTS -*\s*$)")
ACTION = re.compile(r"^(\w+)\[(.+)\]$", re.DOTALL)  # what the environment's parse_action reads
ARG_KEYS = {"search": "entity", "lookup": "keyword", "finish": "answer"}
ENVIRONMENT_FAILURES = ("Invalid Action", "The last page Searched was not found",
                        "Could not find that page, please try again")
REFLEXION_PREAMBLE = "You have attempted to answer following question before and failed."


def read_react_log(path: str | Path, keys: tuple[str, ...] = ()) -> list[Conversation]:
    """Every episode with at least one step in a ReAct text log. A conversation's messages are its
    steps `{"number", "thought", "action", "observation"}`, its record the question, the reflections,
    and the trial and outcome group of the headers above it; its id is `<file stem>-<n>`, n counting
    the episodes kept from 1 (`<file stem>-trial<k>-<n>` under a `BEGIN TRIAL k` header)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, ValueError) as exc:
        raise SmolgepaError(f"Cannot read {path}: {exc}.") from None
    episodes: list[Conversation] = []
    trial: int | None = None
    group: str | None = None
    current: dict[str, Any] | None = None
    field: list[str] | None = None  # the lines of the text being read (continuation lines join it)

    def close() -> None:
        nonlocal current
        if current is not None and current["steps"]:
            number = len(episodes) + 1
            stem = f"{path.stem}-trial{trial}" if trial is not None else path.stem
            steps = tuple({key: "\n".join(value).strip() if isinstance(value, list) else value
                           for key, value in step.items()} for step in current["steps"])
            record = {"question": "\n".join(current["question"]).strip(),
                      "reflections": "\n".join(current["reflections"]).strip(), "trial": trial, "group": group}
            episodes.append(Conversation(f"{stem}-{number}", steps, f"{path}:{current['line']}", record))
        current = None

    for number, line in enumerate(lines, start=1):
        header = HEADER.match(line)
        question = QUESTION.match(line)
        step = STEP.match(line)
        if header:
            close()
            field = None
            if header.group(1):
                trial, group = int(header.group(1)), None
            elif header.group(2):
                group = header.group(2).lower()
        elif question:
            close()
            current = {"question": [question.group(1)], "reflections": [], "steps": [], "line": number}
            field = current["question"]
        elif current is None:
            continue  # text outside an episode
        elif line.startswith("Correct answer:"):
            close()
            field = None
        elif line.strip() == "Reflections:" and not current["steps"]:
            field = current["reflections"]
        elif step:
            kind, index = step.group(1).lower(), int(step.group(2))
            steps = current["steps"]
            if not steps or steps[-1]["number"] != index or steps[-1][kind] is not None:
                steps.append({"number": index, "thought": None, "action": None, "observation": None})
            steps[-1][kind] = [step.group(3)]
            field = steps[-1][kind]
        elif field is not None:
            field.append(line)
    close()
    if not episodes:
        raise SmolgepaError(f"{path}: no ReAct episodes found: expected 'Question: ...' followed by numbered "
                            "'Thought 1: ...', 'Action 1: Search[...]', 'Observation 1: ...' lines.")
    return episodes


def from_react(conversation: Conversation) -> Trace:
    """The Trace of one ReAct episode (a conversation of `read_react_log`)."""
    build = TraceBuilder(conversation.where)
    question = conversation.record.get("question", "")
    reflections = conversation.record.get("reflections", "")
    build.user(f"{question}\nReflections:\n{reflections}" if reflections else question)
    for step in conversation.messages:
        thought, action, observation = step.get("thought"), step.get("action"), step.get("observation")
        if action is None:
            if thought:
                build.message(thought)
        else:
            tool, args = parse_action(action)
            build.call(tool, args, thought or "")
        if observation is not None:
            build.result(observation, error=failed(observation), read_output=False)
    return build.trace()


def parse_action(action: str) -> tuple[str, dict[str, str]]:
    """The tool and arguments of an action as the environment reads it: `Search[Nick Park]` is
    ("Search", {"entity": "Nick Park"}); an action that is not `Name[...]` is named by its first word."""
    text = action.strip()
    found = ACTION.match(text)
    if found:
        tool, argument = found.group(1), found.group(2)
        return tool, {ARG_KEYS.get(tool.lower(), "input"): argument}
    first, _, rest = text.partition(" ")
    return (first or "Action"), {"input": rest.strip() if first else text}


def failed(observation: str) -> bool:
    """Whether the environment could not carry out the action (not a miss: see the module's doc)."""
    return observation.strip().startswith(ENVIRONMENT_FAILURES)


def question_of(task: str) -> str:
    """The question alone, from a ReAct trace's task: Reflexion's preamble and reflections left out."""
    return task.split("\nReflections:", 1)[0].split(REFLEXION_PREAMBLE, 1)[0].strip()
