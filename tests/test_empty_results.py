"""Results that found nothing: the outputs real agents get back from an empty search, and the run of
them that the `empty_results` figure counts (a reworded search that keeps missing)."""

from __future__ import annotations

import pytest

from smolgepa.tasks import load_task
from smolgepa.traces.empty_results import longest_empty_run, looks_empty
from smolgepa.traces.evidence import collect_evidence
from smolgepa.traces.figures import figures
from smolgepa.traces.render import render_trace
from smolgepa.traces.trace_model import Message, ToolCall, ToolResult, Trace


@pytest.mark.parametrize("output", [
    "Could not find [\"Scatman Crothers\" \"1939\"]. Similar: ['Meet Me at the Fair', 'Sid Kuller']",  # ReAct Search
    "Could not find [NBA Rookie of the Year Award 2003-04]. Similar: []",
    "No Results",  # ReAct Lookup
    "No results found for 'refund policy'.",
    "No matches found",
    "Nothing found.",
    "0 results",
    "Search results: no results for query",
    "",
])
def test_empty_answers_are_empty(output: str) -> None:
    assert looks_empty(ToolResult("search", output))


@pytest.mark.parametrize("output", [
    "A Rookie of the Year award is given by a number of sports leagues to the top-performing athlete.",
    "src/utils.py:12: # no results are cached here",  # a grep hit that mentions the words later on
    "Found 3 results: a.py, b.py, c.py",
    "The page was not found in the index, but 2 similar pages were: ...",  # says more than nothing
    "Answer is INCORRECT",
])
def test_answers_with_content_are_not_empty(output: str) -> None:
    assert not looks_empty(ToolResult("search", output))


def test_an_error_is_not_an_empty_result() -> None:
    assert not looks_empty(ToolResult("read_file", "No such file or directory: 'x.py'", error=True))


def test_the_run_counts_consecutive_empty_results_only() -> None:
    miss = [ToolCall("Search", {"entity": "a"}), ToolResult("Search", "Could not find [a]. Similar: []")]
    hit = [ToolCall("Search", {"entity": "b"}), ToolResult("Search", "B is a letter.")]
    turns = miss * 2 + hit + miss * 3 + [Message("Still looking.")] + miss
    trace = Trace("Find it.", tuple(turns))
    assert longest_empty_run(trace) == 4  # a message between results does not break the run
    assert collect_evidence(trace).empty_results == 4
    assert figures(trace)["empty_results"] == 4


def test_a_reworded_search_that_keeps_missing_shows_in_every_rendering() -> None:
    loop = next(e for e in load_task("agent_monitor-real").split("train") if e.id == "hqa-base1-100-w1")
    assert loop.label == "doom_loop"
    run = longest_empty_run(loop.raw)
    assert run >= 4
    assert f"Empty results in a row: {run}\n" in render_trace(loop.raw, mode="summary")
    assert f"results that found nothing in a row: {run}\n" in render_trace(loop.raw, mode="annotated")


def test_the_decision_list_fitted_on_real_windows_counts_empty_results_as_a_loop() -> None:
    """Why the figure exists: trained on agent_monitor-real's train split, the decision list takes a run
    of empty results for a loop, and finds most of the val split's loops with it (val only, never test)."""
    from smolgepa.traces.rules import fit_rules

    task = load_task("agent_monitor-real")
    rules = fit_rules([(figures(e.raw), e.label) for e in task.split("train")], list(task.labels))
    assert any(r.figure == "empty_results" and r.label == "doom_loop" for r in rules.rules), rules
    loops = [e for e in task.split("val") if e.label == "doom_loop"]
    found = sum(rules.predict(figures(e.raw)) == "doom_loop" for e in loops)
    assert found * 2 > len(loops), (found, len(loops))
