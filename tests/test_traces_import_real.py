"""`smolgepa traces import` on the shapes of real published agent logs (tests/fixtures/real_logs/SOURCES.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.traces import Message, ToolCall, ToolResult, UserMessage
from smolgepa.traces.importers import import_traces
from smolgepa.traces.tool_errors import looks_like_error

REAL = Path(__file__).resolve().parent / "fixtures" / "real_logs"
SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def test_messages_under_traj_are_read_and_later_user_turns_kept() -> None:
    [item] = import_traces(REAL / "mini_swe_agent_traj_key.json", "openai-chat")
    trace = item.trace
    assert trace.task.startswith("<pr_description>")
    users = [turn for turn in trace.turns if isinstance(turn, UserMessage)]
    assert len(users) == 1 and users[0].content.startswith("Tool call error:")  # kept, in place
    assert isinstance(trace.turns[trace.turns.index(users[0]) - 1], ToolResult)
    assert {turn.name for turn in trace.turns if isinstance(turn, ToolResult)} == {"bash"}
    assert not any(isinstance(turn, Message) and "diff --git" in turn.content for turn in trace.turns)  # `exit` left out


def test_an_unknown_messages_key_names_the_keys_found_and_the_flag() -> None:
    with pytest.raises(SmolgepaError) as caught:
        import_traces(REAL / "swe_agent_function_calling_history.json", "openai-chat")
    message = str(caught.value)
    assert "'messages' or 'traj'" in message and "'history'" in message and "--messages-key" in message


def test_a_result_answering_several_call_ids_belongs_to_each_call() -> None:
    [item] = import_traces(REAL / "swe_agent_function_calling_history.json", "openai-chat", messages_key="history")
    calls = [turn.tool for turn in item.trace.turns if isinstance(turn, ToolCall)]
    results = [turn.name for turn in item.trace.turns if isinstance(turn, ToolResult)]
    assert calls == ["create", "insert", "bash"]
    assert results == ["create", "insert", "bash"]  # not "bash" twice
    assert item.trace.task.startswith("We're currently solving the following issue")


def test_a_swe_agent_traj_file_imports_its_commands_and_flags_the_linter_refusals() -> None:
    [item] = import_traces(REAL / "swe_agent_pydicom.traj", "swe-agent")
    trace = item.trace
    assert "Pixel Representation attribute should be optional" in trace.task
    calls = [turn for turn in trace.turns if isinstance(turn, ToolCall)]
    assert [call.tool for call in calls][:3] == ["create", "edit", "python"]
    assert calls[2].args == {"args": "reproduce_bug.py"} and calls[0].thought
    errors = [turn.output[:40] for turn in trace.turns if isinstance(turn, ToolResult) and turn.error]
    assert len(errors) == 4  # the traceback and three "Your proposed edit has introduced new syntax error(s)"
    assert sum(text.startswith("Your proposed edit") for text in errors) == 3


def test_a_history_with_observations_in_user_turns_is_refused_not_imported_empty(tmp_path: Path) -> None:
    with pytest.raises(SmolgepaError, match="no tool calls, but 1 user message"):
        import_traces(REAL / "mini_swe_agent_v1_local.traj.json", "openai-chat")
    result = subprocess.run([*SMOLGEPA, "traces", "import", "--from", "openai-chat",
                             str(REAL / "mini_swe_agent_v1_local.traj.json")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == "" and "--from swe-agent" in result.stderr
    assert result.stderr.count("\n") == 1


def test_mini_swe_agent_text_actions_become_bash_calls_and_format_errors_user_turns() -> None:
    [item] = import_traces(REAL / "mini_swe_agent_v1_text_actions.traj.json", "mini-swe-agent")
    trace = item.trace
    assert item.id == "django__django-15098"
    assert trace.task.startswith("<pr_description>") and "script and region" in trace.task
    calls = [turn for turn in trace.turns if isinstance(turn, ToolCall)]
    assert [call.tool for call in calls] == ["bash"] * 2
    assert calls[0].args == {"command": "ls -la"} and calls[0].thought.startswith("I need to explore")  # no "THOUGHT:"
    assert calls[1].args["command"].startswith('grep -n "language_code_prefix_re ="')
    results = [turn for turn in trace.turns if isinstance(turn, ToolResult)]
    assert len(results) == 2 and all(result.output.startswith("<returncode>0") for result in results)
    # the reply with two blocks is a message, and the framework's refusal a user turn after it
    assert [type(turn).__name__ for turn in trace.turns] == [
        "ToolCall", "ToolResult", "Message", "UserMessage", "ToolCall", "ToolResult"]
    refusal = next(turn for turn in trace.turns if isinstance(turn, UserMessage))
    assert refusal.content.startswith("Please always provide EXACTLY ONE action in triple backticks, found 2")


def test_the_cli_reads_mini_swe_agent_text_actions_that_openai_chat_refuses() -> None:
    result = subprocess.run([*SMOLGEPA, "traces", "import", "--from", "mini-swe-agent",
                             str(REAL / "mini_swe_agent_v1_local.traj.json")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert [turn.get("tool") for turn in line["trace"]["turns"] if turn["role"] == "assistant"] == ["bash", "bash"]
    refused = subprocess.run([*SMOLGEPA, "traces", "import", "--from", "openai-chat",
                              str(REAL / "mini_swe_agent_v1_local.traj.json")], capture_output=True, text=True, timeout=120)
    assert "--from mini-swe-agent" in refused.stderr


def test_atif_steps_become_calls_results_and_messages() -> None:
    [item] = import_traces(REAL / "atif_rfc_example.json", "atif")
    assert item.id == "025B810F-B3A2-4C67-93C0-FE7A142A947A"
    turns = item.trace.turns
    assert item.trace.task == "What is the current trading price of Alphabet (GOOGL)?"
    assert turns[0] == ToolCall("financial_search", {"ticker": "GOOGL", "metric": "price"}, turns[0].thought)
    assert turns[0].thought.startswith("The request requires two data points")
    assert [turn.name for turn in turns if isinstance(turn, ToolResult)] == ["financial_search"] * 2
    assert isinstance(turns[-1], Message) and "185.35" in turns[-1].content


def test_atif_written_with_results_as_system_steps_names_each_result_after_its_call() -> None:
    [item] = import_traces(REAL / "atif_openagents_regex_log.json", "atif")
    results = [(turn.name, turn.error) for turn in item.trace.turns if isinstance(turn, ToolResult)]
    assert results == [("Write", True), ("Bash", False), ("Bash", True), ("Bash", False), ("Write", False)]
    assert sum(isinstance(turn, ToolCall) for turn in item.trace.turns) == 5


def test_the_cli_offers_the_new_formats_and_counts_calls() -> None:
    result = subprocess.run([*SMOLGEPA, "traces", "import", "--from", "atif", str(REAL / "atif_rfc_example.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["trace"]["task"].startswith("What is")
    assert "(2 tool calls, 0 failed)" in result.stderr


@pytest.mark.parametrize("output", [
    '{"response": "{\\"status\\": 401, \\"message\\": \\"Unauthorized\\"}"}',
    '{"error": "", "response": "HTTP Error 401: Unauthorized"}',
    '{"response": "400 Bad Request: the server could not understand the request"}',
    '{"message": "\'limit\' must be an integer", "data": null}',
    '{"status_code": 404, "body": "no such order"}',
    "<returncode>2</returncode>\n<output>\nls: cannot access 'x'\n</output>",
    "Your proposed edit has introduced new syntax error(s). Please read this error message carefully",
])
def test_failures_inside_json_responses_and_agent_frameworks_are_read(output: str) -> None:
    assert looks_like_error(output)


@pytest.mark.parametrize("output", [
    '{"status": 200, "response": "order #401 shipped"}',
    '{"error": "", "response": "[{\\"name\\": \\"Bad Request Cafe\\"}]"}',
    "<returncode>0</returncode>\n<output>\n3 passed\n</output>",
])
def test_ordinary_json_and_framework_output_is_not_a_failure(output: str) -> None:
    assert not looks_like_error(output)
