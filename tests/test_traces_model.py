"""The trace format: parsing, validation errors that say where, and the round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.tasks import load_task
from smolgepa.traces import Message, ToolCall, ToolResult, Trace, UserMessage, parse_trace

GOOD = {
    "task": "Fix the failing test",
    "turns": [
        {"role": "assistant", "thought": "Run it first.", "tool": "run_tests", "args": {"target": "tests/"}},
        {"role": "tool", "name": "run_tests", "output": "1 failed", "error": False},
        {"role": "assistant", "content": "I found the bug."},
    ],
}


def test_parse_builds_typed_turns() -> None:
    trace = parse_trace(GOOD, "t.jsonl:1")
    assert trace.task == "Fix the failing test"
    assert trace.turns == (
        ToolCall(tool="run_tests", args={"target": "tests/"}, thought="Run it first."),
        ToolResult(name="run_tests", output="1 failed", error=False),
        Message(content="I found the bug."),
    )


def test_round_trip_through_to_dict() -> None:
    trace = parse_trace(GOOD, "x")
    assert parse_trace(json.loads(json.dumps(trace.to_dict())), "x") == trace


def test_error_flag_defaults_to_false_and_args_to_empty() -> None:
    trace = parse_trace(
        {"task": "t", "turns": [{"role": "assistant", "tool": "ls"}, {"role": "tool", "name": "ls", "output": ""}]}, "x"
    )
    assert trace.turns == (ToolCall("ls", {}), ToolResult("ls", "", False))


def test_a_later_user_message_is_a_turn_and_round_trips() -> None:
    value = {"task": "t", "turns": [{"role": "user", "content": "also the docs"}, {"role": "assistant", "tool": "ls", "args": {}}]}
    trace = parse_trace(value, "x")
    assert trace.turns[0] == UserMessage("also the docs")
    assert trace.to_dict() == value


def _with_turn(turn: object, index: int = 1) -> dict:
    turns = list(GOOD["turns"])
    turns[index] = turn
    return {"task": GOOD["task"], "turns": turns}


@pytest.mark.parametrize(
    ("turn", "message"),
    [
        ({"role": "system", "content": "hi"}, "'role' must be \"assistant\", \"tool\" or \"user\""),
        ({"role": "user", "content": ""}, "a user turn needs 'content'"),
        ({"role": "tool", "output": "x", "error": False}, "needs 'name'"),
        ({"role": "tool", "name": "ls", "error": False}, "needs 'output'"),
        ({"role": "tool", "name": "ls", "output": {"rows": 3}}, "'output' must be a string"),
        ({"role": "tool", "name": "ls", "output": "x", "error": "yes"}, "'error' must be true or false"),
        ({"role": "assistant", "tool": "ls", "args": ["-l"]}, "'args' must be a JSON object"),
        ({"role": "assistant", "tool": 3, "args": {}}, "needs 'tool'"),
        ({"role": "assistant", "tool": "ls", "arguments": {}}, "unknown key(s) 'arguments'"),
        ({"role": "assistant", "tool": "ls", "thought": 5}, "'thought' must be a string"),
        ({"role": "assistant"}, "needs 'tool' (a tool call) or 'content'"),
        ({"role": "assistant", "content": ""}, "'content' must be a non-empty string"),
        ("just text", "a turn must be a JSON object"),
    ],
)
def test_bad_turns_name_file_line_and_turn(turn: object, message: str) -> None:
    with pytest.raises(SmolgepaError) as caught:
        parse_trace(_with_turn(turn), "data.jsonl:7")
    text = str(caught.value)
    assert text.startswith("data.jsonl:7: turn 2 (turns[1]): "), text
    assert message in text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a string", "a trace must be a JSON object"),
        ({"turns": GOOD["turns"]}, "needs 'task'"),
        ({"task": "t", "turns": []}, "needs 'turns', a non-empty list"),
        ({"task": "t", "turns": GOOD["turns"], "label": "x"}, "unknown trace key(s) 'label'"),
    ],
)
def test_bad_traces_name_where(value: object, message: str) -> None:
    with pytest.raises(SmolgepaError, match="^f.jsonl:2: ") as caught:
        parse_trace(value, "f.jsonl:2")
    assert message in str(caught.value)


def _write_task(tmp_path: Path, rows: list[dict]) -> Path:
    (tmp_path / "t.yaml").write_text(
        "name: mine\ninput: trace\ninput_format: trace\n"
        "labels: {doom_loop: loops, making_progress: fine}\ndata: t.jsonl\n",
        encoding="utf-8",
    )
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return tmp_path / "t.yaml"


def test_loader_reports_file_line_and_turn_of_a_bad_trace(tmp_path: Path) -> None:
    bad = {"task": "t", "turns": [GOOD["turns"][0], {"role": "tool", "name": "x", "output": 1}]}
    path = _write_task(tmp_path, [{"id": 1, "label": "doom_loop", "trace": GOOD}, {"id": 2, "label": "doom_loop", "trace": bad}])
    with pytest.raises(SmolgepaError) as caught:
        load_task(path)
    assert f"{tmp_path / 't.jsonl'}:2: turn 2 (turns[1]): 'output' must be a string" in str(caught.value)


def test_a_users_trace_task_loads_and_renders(tmp_path: Path) -> None:
    path = _write_task(tmp_path, [{"id": "a", "label": "making_progress", "split": "test", "trace": GOOD}])
    task = load_task(path)
    (example,) = task.examples
    assert isinstance(example.raw, Trace)
    assert example.input.startswith("Task: Fix the failing test\n1. agent calls run_tests(target=\"tests/\")")
