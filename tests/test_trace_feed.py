"""What `smolgepa watch` reads from a growing log, without a model: complete lines only (a line still
being written waits), a file that starts over, the trace format line by line, and chat transcripts one
message a line; each bad line refused with one message and the trace left as it was."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.traces import ToolCall, ToolResult, UserMessage
from smolgepa.traces.log_follower import LogFollower
from smolgepa.traces.trace_feed import TraceFeed, agent_steps

CALL = {"role": "assistant", "thought": "Look first.", "tool": "read_file", "args": {"path": "a.py"}}
RESULT = {"role": "tool", "name": "read_file", "output": "print(1)"}


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_the_follower_hands_out_complete_lines_once_and_holds_back_a_line_being_written(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    follower = LogFollower(path)
    assert follower.read().lines == [] and not follower.exists  # not written yet: nothing, no error
    append(path, '{"a": 1}\n\n{"b"')
    assert follower.read().lines == [(1, '{"a": 1}')]  # line 2 is blank, line 3 is not finished
    assert follower.pending == b'{"b"' and follower.read().lines == []
    append(path, ': 2}\r\n')
    assert follower.read().lines == [(3, '{"b": 2}')]
    append(path, '{"c": 3}')
    assert follower.read().lines == [] and follower.finish().lines == [(4, '{"c": 3}')]  # --once: the end


def test_the_follower_starts_over_when_the_file_is_truncated_or_replaced(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n', encoding="utf-8")
    follower = LogFollower(path)
    assert len(follower.read().lines) == 2
    path.write_text('{"c": 3}\n', encoding="utf-8")  # shorter: truncated and rewritten
    found = follower.read()
    assert found.restarted and found.lines == [(1, '{"c": 3}')]
    other = tmp_path / "new.jsonl"
    other.write_text('{"d": 4}\n{"e": 5}\n', encoding="utf-8")
    os.replace(other, path)  # another file under the same name
    found = follower.read()
    assert found.restarted and [n for n, _ in found.lines] == [1, 2]


def test_trace_lines_build_the_trace_and_bad_lines_are_refused_one_message_each() -> None:
    feed = TraceFeed("t.jsonl")
    lines = [json.dumps(RESULT), json.dumps({"task": "Fix the test."}), json.dumps(CALL), "{not json",
             json.dumps({**RESULT, "output": 7}), json.dumps(RESULT), json.dumps({"steps": []}), "[1, 2]",
             json.dumps({"role": "user", "content": "Any luck?"})]
    problems = {number: feed.add(number, line) for number, line in enumerate(lines, start=1)}
    refused = {number: text for number, text in problems.items() if text}
    assert sorted(refused) == [1, 4, 5, 7, 8]
    assert refused[1].startswith("t.jsonl:1: a turn before the request")
    assert refused[4].startswith("t.jsonl:4: malformed JSON")
    assert refused[5].startswith("t.jsonl:5: 'output' must be a string")
    assert refused[7].startswith("t.jsonl:7: not a trace line (its keys: 'steps')")
    assert all(text.count("\n") == 0 and "skipped" in text for text in refused.values())
    trace = feed.trace
    assert trace is not None and trace.task == "Fix the test."
    assert [type(turn) for turn in trace.turns] == [ToolCall, ToolResult, UserMessage] and agent_steps(trace) == 1


def test_a_whole_trace_line_replaces_the_trace_read_so_far() -> None:
    feed = TraceFeed("t.jsonl")
    assert feed.add(1, json.dumps({"task": "First."})) is None and feed.trace is None  # no turn yet
    feed.add(2, json.dumps(CALL))
    whole = {"id": "x", "trace": {"task": "Second.", "turns": [CALL, RESULT, CALL]}}
    assert feed.add(3, json.dumps(whole)) is None
    assert feed.trace is not None and feed.trace.task == "Second." and len(feed.trace.turns) == 3
    assert feed.add(4, json.dumps({"task": "Second.", "turns": []})).startswith("t.jsonl:4: the trace needs 'turns'")
    assert len(feed.trace.turns) == 3  # the refused line changed nothing


def test_chat_messages_one_a_line_are_converted_as_traces_import_converts_them() -> None:
    feed = TraceFeed("chat.jsonl", "openai-chat")
    messages = [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Fix the failing test."},
        {"role": "user", "content": "It is in utils."},  # before any call: part of the request
        {"role": "assistant", "content": "Reading it.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "utils.py"}'}}]},
        {"role": "robot", "content": "?"},
        {"role": "tool", "tool_call_id": "c1", "content": "def f(): pass"},
        {"role": "assistant", "tool_calls": [{"id": "c2"}]},
    ]
    problems = [feed.add(number, json.dumps(m)) for number, m in enumerate(messages, start=1)]
    assert problems[:4] == [None] * 4 and problems[5] is None
    assert problems[4].startswith("chat.jsonl:5: unknown role 'robot'") and problems[4].endswith("skipped.")
    assert problems[6].startswith("chat.jsonl:7: tool_calls[0] has no 'function'")
    trace = feed.trace
    assert trace is not None and trace.task == "Fix the failing test.\nIt is in utils."
    assert [type(turn) for turn in trace.turns] == [ToolCall, ToolResult]
    assert trace.turns[0].thought == "Reading it." and trace.turns[1].name == "read_file"


def test_an_anthropic_conversation_line_replaces_the_messages_and_other_formats_are_refused() -> None:
    feed = TraceFeed("a.jsonl", "anthropic")
    conversation = {"id": "s1", "messages": [
        {"role": "user", "content": "Find the config."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "grep", "input": {"q": "config"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "No such file",
                                      "is_error": True}]}]}
    assert feed.add(1, json.dumps(conversation)) is None
    assert feed.trace is not None and feed.id == "s1" and feed.trace.turns[1].error
    with pytest.raises(SmolgepaError, match="traces import"):
        TraceFeed("x.json", "atif")
