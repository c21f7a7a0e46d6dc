"""`smolgepa traces import`: OpenAI chat and Anthropic logs become traces; failures are read from tool output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.traces import Message, ToolCall, ToolResult, parse_trace
from smolgepa.traces.importers import import_traces
from smolgepa.traces.tool_errors import looks_like_error

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "traces"
SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def test_openai_chat_sample_becomes_calls_results_and_messages() -> None:
    traces = {item.id: item.trace for item in import_traces(SAMPLES / "openai-chat.jsonl", "openai-chat")}
    assert list(traces) == ["pytest-loop", "verbose-flag", "config-args"]
    loop = traces["pytest-loop"]
    assert loop.task == "Fix the failing pagination test in tests/test_api.py."  # the system prompt is left out
    calls = [turn for turn in loop.turns if isinstance(turn, ToolCall)]
    assert [call.args for call in calls] == [{"cmd": "pytest tests/test_api.py"}] * 5  # arguments decoded from JSON
    assert calls[0].thought == "Run the tests to see the failure."
    results = [turn for turn in loop.turns if isinstance(turn, ToolResult)]
    assert [(r.name, r.error) for r in results] == [("run_command", True)] * 5  # "exit code 1"
    assert loop.turns[-1] == Message("The test still fails; trying again.")
    progress = traces["verbose-flag"]
    assert not any(turn.error for turn in progress.turns if isinstance(turn, ToolResult))
    confusion = traces["config-args"]
    assert confusion.task == "What does load_config do when the file is missing?"  # content given as parts
    assert [r.error for r in confusion.turns if isinstance(r, ToolResult)] == [True, True, True]


def test_anthropic_sample_reads_thinking_tool_use_and_is_error() -> None:
    traces = {item.id: item.trace for item in import_traces(SAMPLES / "anthropic.json", "anthropic")}
    assert list(traces) == ["grep-loop", "version-bump"]
    loop = traces["grep-loop"]
    first = loop.turns[0]
    assert isinstance(first, ToolCall) and first.tool == "grep" and first.thought == "Search for the setting."
    assert first.args == {"pattern": "retry_delay", "path": "src/"}
    assert [r.error for r in loop.turns if isinstance(r, ToolResult)] == [True] * 4
    bump = traces["version-bump"]
    assert bump.turns[0] == ToolCall("read_file", {"path": "pyproject.toml"}, "Read the current version.")
    assert bump.turns[1] == ToolResult("read_file", '[project]\nname = "tool"\nversion = "1.1.3"', False)
    assert bump.turns[-1] == Message("The version is now 1.2.0 and the package builds.")


@pytest.mark.parametrize("output", [
    "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad",
    "TypeError: read_file() got an unexpected keyword argument 'file'",
    "Error: no such tool",
    "fatal: not a git repository (or any of the parent directories): .git",
    "make: *** [all] Error 2\nexit status 2",
    "Process exited with code 1",
    "bash: pytst: command not found",
    "cat: notes.txt: No such file or directory",
    "400 Bad Request: unknown field \"filepath\"",
    '{"error": "rate limited"}',
    '{"success": false, "message": "denied"}',
])
def test_failures_are_read_from_the_output(output: str) -> None:
    assert looks_like_error(output)


@pytest.mark.parametrize("output", [
    "",
    "Edited cli.py: 1 replacement.",
    "src/log.py:12: logger.error('failed to connect')",  # a grep hit that mentions errors
    "3 passed in 0.12s\nexit code 0",
    "Errors handled: none",
    '{"error": null, "result": [1, 2]}',
    "HTTP 200 OK",
])
def test_ordinary_output_is_not_a_failure(output: str) -> None:
    assert not looks_like_error(output)


def test_cli_writes_trace_lines_a_trace_task_reads(tmp_path: Path) -> None:
    result = subprocess.run([*SMOLGEPA, "traces", "import", "--from", "openai-chat", "--label", "doom_loop",
                             str(SAMPLES / "openai-chat.jsonl")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["pytest-loop", "verbose-flag", "config-args"]
    assert {line["label"] for line in lines} == {"doom_loop"}
    for number, line in enumerate(lines, start=1):
        parse_trace(line["trace"], f"line {number}")
    assert "imported 3 traces" in result.stderr and ", 8 failed)" in result.stderr


def test_a_log_without_a_request_or_with_an_unknown_role_is_refused_with_its_place(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    call = {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "ls", "arguments": "{}"}}]}
    log.write_text(json.dumps([call]) + "\n" + "{not json\n", encoding="utf-8")
    with pytest.raises(SmolgepaError, match=r"log.jsonl:2: malformed JSON"):
        import_traces(log, "openai-chat")
    log.write_text(json.dumps([call]) + "\n", encoding="utf-8")
    with pytest.raises(SmolgepaError, match=r"log.jsonl: no user message"):
        import_traces(log, "openai-chat")
    log.write_text(json.dumps([{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]) + "\n")
    with pytest.raises(SmolgepaError, match=r"log.jsonl: message 2: unknown role 'robot'"):
        import_traces(log, "openai-chat")
    result = subprocess.run([*SMOLGEPA, "traces", "import", "--from", "openai-chat", str(log)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "unknown role" in result.stderr
