"""`smolgepa traces import --from react` on a real ReAct log (Reflexion's HotPotQA runs; tests/fixtures/real_logs/SOURCES.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.traces import Message, ToolCall, ToolResult
from smolgepa.traces.importers import import_traces
from smolgepa.traces.react_log import parse_action, question_of

REAL = Path(__file__).resolve().parent / "fixtures" / "real_logs"
LOG = REAL / "reflexion_react_hotpotqa.txt"
SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]


def test_the_cli_imports_every_episode_with_steps_and_counts_calls_and_failures() -> None:
    result = subprocess.run([*SMOLGEPA, "traces", "import", "--from", "react", str(LOG)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    # six episodes in the file; trial 6's bare question (already solved, no step) is left out
    assert [line["id"] for line in lines] == ["reflexion_react_hotpotqa-trial1-1", "reflexion_react_hotpotqa-trial1-2",
                                              "reflexion_react_hotpotqa-trial2-3", "reflexion_react_hotpotqa-trial2-4",
                                              "reflexion_react_hotpotqa-trial2-5"]
    assert "imported 5 traces" in result.stderr and "(24 tool calls, 6 failed)" in result.stderr
    assert lines[0]["trace"]["task"] == "Which of Jonny Craig and Pete Doherty has been a member of more bands ?"
    assert all("Correct answer" not in json.dumps(line) for line in lines)  # the gold answer is not shown


def test_steps_become_calls_with_thoughts_and_their_observations_results() -> None:
    traces = {item.id.rsplit("-", 1)[-1]: item.trace for item in import_traces(LOG, "react")}
    first = traces["1"].turns
    assert [type(turn).__name__ for turn in first] == ["ToolCall", "ToolResult"] * 3
    assert first[0] == ToolCall("Search", {"entity": "Jonny Craig"}, first[0].thought)
    assert first[0].thought.startswith("I need to search Jonny Craig and Pete Doherty")
    assert first[4].args == {"answer": "Jonny Craig"} and first[5] == ToolResult("Finish", "Answer is CORRECT", False)
    rock = traces["5"].turns
    lookup = rock[5]
    assert rock[4].tool == "Lookup" and rock[4].args == {"keyword": "services"}
    assert lookup.output.startswith("(Result 1/1) UK company law\nUnfair prejudice")  # continuation lines kept
    assert rock[8] == ToolCall("Compare", {"input": "services of Rock Nominees Ltd and ISS A/S"}, rock[8].thought)
    assert rock[9].error and rock[9].output.startswith("Invalid Action")


def test_search_misses_are_answers_and_environment_refusals_are_errors() -> None:
    traces = {item.id.rsplit("-", 1)[-1]: item.trace for item in import_traces(LOG, "react")}
    misses = [turn for turn in traces["2"].turns if isinstance(turn, ToolResult)]
    assert len(misses) == 6 and all(turn.output.startswith("Could not find [") for turn in misses)
    assert not any(turn.error for turn in misses)  # "Could not find [X]. Similar: [...]": the tool answered
    loop = traces["4"]
    calls = [turn for turn in loop.turns if isinstance(turn, ToolCall)]
    # five actions that hold three searches each: read as the environment reads them, and refused
    assert [call.args for call in calls[1:]] == [
        {"entity": "Benito Mussolini], Search[Engelbert Dollfuss], Search[Gyula Gömbös"}] * 5
    failed = [turn for turn in loop.turns if isinstance(turn, ToolResult) and turn.error]
    assert [turn.output for turn in failed] == ["Could not find that page, please try again."] * 5


def test_reflections_stay_in_the_task_and_question_of_strips_them() -> None:
    traces = {item.id.rsplit("-", 1)[-1]: item.trace for item in import_traces(LOG, "react")}
    task = traces["4"].task
    assert "\nReflections:\n- I failed to consider the other two Prime Ministers" in task
    assert question_of(task) == ("The Rome Protocols were signed by three Prime Ministers one of which was "
                                 "assassinated as part of what?")
    assert question_of(traces["1"].task) == traces["1"].task


def test_a_thought_without_an_action_is_a_message_and_free_text_actions_are_named_by_their_first_word(
        tmp_path: Path) -> None:
    log = tmp_path / "halted.txt"
    log.write_text("Question: Who?\nThought 1: Search it.\nAction 1: search for Nick Park\n"
                   "Observation 1: Invalid Action. Valid Actions are Lookup[<topic>] Search[<topic>] and Finish[<answer>].\n"
                   "Thought 2: I am stuck.\n", encoding="utf-8")
    [item] = import_traces(log, "react")
    assert item.id == "halted-1"
    assert item.trace.turns == (ToolCall("search", {"input": "for Nick Park"}, "Search it."),
                                ToolResult("search", item.trace.turns[1].output, True), Message("I am stuck."))
    assert parse_action("Search[Nick Park]") == ("Search", {"entity": "Nick Park"})


def test_a_file_without_episodes_and_a_messages_key_are_refused(tmp_path: Path) -> None:
    log = tmp_path / "chat.json"
    log.write_text('[{"role": "user", "content": "hi"}]', encoding="utf-8")
    with pytest.raises(SmolgepaError, match="no ReAct episodes found"):
        import_traces(log, "react")
    with pytest.raises(SmolgepaError, match="--messages-key does not apply"):
        import_traces(LOG, "react", messages_key="steps")
