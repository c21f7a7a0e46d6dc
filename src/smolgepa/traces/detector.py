"""A rule-based monitor: the stuck detectors agent frameworks ship, mapped onto the four states.

The rules, checked after every tool result and every agent message (as a running agent would check
them), the first that fires deciding the label:

1. **api_confusion**: the last 3 actions are the same call and the last 3 results are errors
   (OpenHands StuckDetector, "repeating action, error").
2. **doom_loop**: the last 3 actions are the same tool call with the same arguments (OpenCode's
   doom-loop check, DOOM_LOOP_THRESHOLD = 3); or the last 6 actions and results alternate between
   two pairs A, B, A, B, A, B (OpenHands, "action-observation pattern"). OpenHands' "same action and
   same observation 4 times" needs no check of its own: checked after every result, the 3-call rule
   always fires first.
3. **verbose_thinking**: 3 agent messages in a row with no action or result in between (OpenHands'
   monologue check, without its requirement that the messages be identical); or, over the whole
   trace, at least `VERBOSE_MIN_WORDS` words of thoughts and messages and at least
   `VERBOSE_WORDS_PER_CALL` words per tool call (our rule: the frameworks have none for this state).
4. Otherwise **making_progress**.

Actions are tool calls and agent messages (OpenHands counts a message as an action); results are tool
results. As published, calls are the same when name and arguments are equal (`exact_key`); with
`near_identical=True` cosmetic differences are ignored (`call_key`) and errors are compared with
their variable parts masked (`error_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.tasks.model import Example, Task
from smolgepa.traces.evidence import call_key, error_key, exact_key, longest_message_run, monologue_words
from smolgepa.traces.trace_model import Message, ToolCall, ToolResult, Trace

STATES = ("doom_loop", "api_confusion", "verbose_thinking", "making_progress")
VERBOSE_MIN_WORDS = 150
VERBOSE_WORDS_PER_CALL = 60


@dataclass(frozen=True)
class Detection:
    """The detector's verdict: label, the rule that fired, the turn (1-based) it fired on, and why."""

    label: str
    rule: str
    turn: int
    reason: str


def detect_state(trace: Trace, near_identical: bool = False) -> tuple[str, str]:
    """(label, reason) for `trace` by the published stuck-detector rules (see the module docstring)."""
    detection = detect(trace, near_identical=near_identical)
    return detection.label, detection.reason


def detect(trace: Trace, near_identical: bool = False) -> Detection:
    """The full verdict for `trace`, including the rule and the turn it fired on."""
    actions: list[tuple[str, str]] = []  # (key, display name)
    results: list[tuple[str, bool]] = []  # (key, error)
    messages_in_a_row = 0
    for number, turn in enumerate(trace.turns, start=1):
        if isinstance(turn, ToolCall):
            actions.append((call_key(turn) if near_identical else exact_key(turn), turn.tool))
            messages_in_a_row = 0
            continue
        if isinstance(turn, Message):
            actions.append(("message:" + turn.content, "message"))
            messages_in_a_row += 1
        elif isinstance(turn, ToolResult):
            results.append((_result_key(turn, near_identical), turn.error))
            messages_in_a_row = 0
        else:  # a later user message breaks a run of agent messages
            messages_in_a_row = 0
        detection = _check(actions, results, messages_in_a_row, number)
        if detection is not None:
            return detection
    detection = _check(actions, results, messages_in_a_row, len(trace.turns))
    if detection is not None:
        return detection
    return _verbose_or_progress(trace)


def _result_key(result: ToolResult, near_identical: bool) -> str:
    if not near_identical:
        return f"{result.name}|{result.error}|{result.output}"
    text = error_key(result.output) if result.error else " ".join(result.output.lower().split())
    return f"{call_key(ToolCall(result.name))}|{result.error}|{text}"


def _same(items: list[Any]) -> bool:
    return all(item == items[0] for item in items)


def _check(
    actions: list[tuple[str, str]], results: list[tuple[str, bool]], messages_in_a_row: int, turn: int
) -> Detection | None:
    if len(actions) + len(results) < 3:
        return None
    keys = [key for key, _ in actions]
    last3, last6 = keys[-3:], keys[-6:]
    name = actions[-1][1]
    if len(last3) == 3 and len(results) >= 3 and _same(last3) and all(error for _, error in results[-3:]):
        if not last3[0].startswith("message:"):
            return Detection(
                "api_confusion", "repeating_action_error", turn,
                f"the same call to {name} was made 3 times in a row and failed each time",
            )
    result_keys = [key for key, _ in results]
    if len(last3) == 3 and _same(last3) and not last3[0].startswith("message:"):
        return Detection(
            "doom_loop", "identical_tool_calls", turn,
            f"3 identical calls to {name} in a row (same tool, same arguments)",
        )
    if len(last6) == 6 and len(results) >= 6:
        res6 = result_keys[-6:]
        alternating = (
            last6[0] == last6[2] == last6[4] and last6[1] == last6[3] == last6[5]
            and res6[0] == res6[2] == res6[4] and res6[1] == res6[3] == res6[5]
        )
        if alternating:
            return Detection(
                "doom_loop", "alternating_pattern", turn,
                "the last 6 actions alternate between the same two calls with the same results",
            )
    if messages_in_a_row >= 3:
        return Detection(
            "verbose_thinking", "monologue", turn,
            f"{messages_in_a_row} agent messages in a row without any action",
        )
    return None


def _verbose_or_progress(trace: Trace) -> Detection:
    words = monologue_words(trace)
    calls = sum(isinstance(turn, ToolCall) for turn in trace.turns)
    per_call = words / max(1, calls)
    if words >= VERBOSE_MIN_WORDS and per_call >= VERBOSE_WORDS_PER_CALL:
        return Detection(
            "verbose_thinking", "monologue_per_call", len(trace.turns),
            f"{words} words of thinking for {calls} tool call(s) ({per_call:.0f} per call)",
        )
    longest = longest_message_run(trace)
    return Detection(
        "making_progress", "no_rule_fired", len(trace.turns),
        f"no stuck pattern ({calls} calls, {words} words of thinking, at most {longest} messages in a row)",
    )


def rule_predictions(task: Task, split: str, near_identical: bool = False) -> list[tuple[Example, str, str]]:
    """(example, predicted label, reason) for each example of `split` (or "all") by the rule detector.

    The task must hold traces and may only use the four states as labels; a predicted state the task
    does not declare simply counts as wrong. `near_identical` ignores cosmetic differences between calls.
    """
    if task.input_format != "trace":
        raise SmolgepaError(
            f"Task {task.name!r} holds text, not agent traces: the rule detector needs a task with "
            "'input_format: trace'."
        )
    unknown = [label for label in task.labels if label not in STATES]
    if unknown:
        raise SmolgepaError(
            f"Task {task.name!r} declares label(s) {', '.join(unknown)} that the rule detector never predicts; "
            f"it predicts {', '.join(STATES)}."
        )
    predictions = []
    for example in task.split(split):
        if not isinstance(example.raw, Trace):
            raise SmolgepaError(f"Example {example.id!r} of task {task.name!r} has no parsed trace.")
        label, reason = detect_state(example.raw, near_identical=near_identical)
        predictions.append((example, label, reason))
    return predictions
