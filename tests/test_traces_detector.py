"""Counted evidence and the rule-based detector, on small hand-made traces."""

from __future__ import annotations

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.tasks import load_task
from smolgepa.traces import Message, ToolCall, ToolResult, Trace, collect_evidence, detect, detect_state, rule_predictions
from smolgepa.traces.detector import VERBOSE_WORDS_PER_CALL
from smolgepa.traces.evidence import call_key, error_key, exact_key


def trace(*turns: object) -> Trace:
    return Trace(task="a task", turns=tuple(turns))  # type: ignore[arg-type]


def call(tool: str = "search", thought: str = "", **args: object) -> ToolCall:
    return ToolCall(tool, dict(args), thought)


def ok(output: str = "No results found.", name: str = "search") -> ToolResult:
    return ToolResult(name, output, False)


def err(output: str, name: str = "search") -> ToolResult:
    return ToolResult(name, output, True)


# --- evidence ------------------------------------------------------------------------------


def test_runs_of_identical_calls_skip_results_and_messages() -> None:
    evidence = collect_evidence(
        trace(call(q="a"), ok(), call(q="b"), ok(), Message("again"), call(q="b"), ok(), call(q="b"), ok(), call(q="c"), ok())
    )
    assert (evidence.identical_run.length, evidence.identical_run.first_turn, evidence.identical_run.last_turn) == (3, 3, 8)
    assert evidence.calls == 5 and evidence.messages == 1 and evidence.turns == 11


def test_cosmetic_differences_are_near_identical_but_not_identical() -> None:
    variants = [
        call(q="Vacation policy", page=1),
        call(page=1, q="vacation policy"),  # argument order
        call(q="  vacation   POLICY "),  # whitespace and case, page missing -> different
        call(q="vacation policy (attempt 3)", page="1"),  # trivial numbering, number as text
        call("Search", q='"vacation policy."', page=1),  # tool case, quotes, punctuation
    ]
    keys = {call_key(c) for c in variants}
    assert len(keys) == 2  # all but the one without `page` agree
    assert len({exact_key(c) for c in variants}) == 5
    turns = [turn for c in (variants[0], variants[1], variants[3], variants[4]) for turn in (c, ok())]
    evidence = collect_evidence(trace(*turns))
    assert evidence.identical_run.length == 1
    assert evidence.near_identical_run.length == 4


def test_real_differences_stay_different() -> None:
    pages = [turn for page in (1, 2, 3) for turn in (call(q="x", page=page), ok(f"page {page}"))]
    assert collect_evidence(trace(*pages)).near_identical_run.length == 1
    assert call_key(call(path="a.py")) != call_key(call(path="b.py"))
    assert call_key(call(cmd="run 2 jobs")) != call_key(call(cmd="run 3 jobs"))


def test_errors_and_whether_the_same_error_repeats() -> None:
    evidence = collect_evidence(
        trace(
            call(file="a"), err("TypeError: search() got an unexpected keyword argument 'file'"),
            call(filename="a"), err("TypeError: search() got an unexpected keyword argument 'filename'"),
            call(path="a"), err("TimeoutError: timed out after 30s"),
            call(path="a"), ok("found"),
        )
    )
    assert evidence.errors == 3
    assert evidence.repeated_error == 2  # the two argument errors differ only in the quoted name
    assert "unexpected keyword argument" in evidence.repeated_error_text
    assert error_key("timed out after 30s") == error_key("timed out after 31s")
    assert error_key("Unknown tool 'a'") != error_key("503 Service Unavailable")


def test_monologue_length_against_actions() -> None:
    evidence = collect_evidence(
        trace(Message("one two three"), Message("four five"), Message("six"), call(thought="seven eight"), ok("not counted"))
    )
    assert evidence.monologue_words == 8
    assert evidence.words_per_call == 8
    assert evidence.longest_monologue == 3


# --- detector ------------------------------------------------------------------------------


def test_three_identical_calls_are_a_doom_loop_opencode() -> None:
    result = detect(trace(call(q="x"), ok(), call(q="x"), ok(), call(q="x"), ok()))
    assert (result.label, result.rule, result.turn) == ("doom_loop", "identical_tool_calls", 6)
    assert detect_state(trace(call(q="x"), ok(), call(q="x"), ok()))[0] == "making_progress"


def test_same_call_failing_three_times_is_api_confusion_openhands() -> None:
    failing = [turn for _ in range(3) for turn in (call(file="a"), err("unexpected keyword argument 'file'"))]
    result = detect(trace(*failing))
    assert (result.label, result.rule) == ("api_confusion", "repeating_action_error")
    assert "failed each time" in result.reason


def test_a_b_alternation_over_six_steps_is_a_doom_loop() -> None:
    a, b = (call("read", path="a.py"), ok("x", "read")), (call("test"), ok("1 failed", "test"))
    result = detect(trace(*a, *b, *a, *b, *a, *b))
    assert (result.label, result.rule) == ("doom_loop", "alternating_pattern")
    changed = detect(trace(*a, *b, *a, *b, *a, call("test"), ok("all passed", "test")))
    assert changed.label == "making_progress"


def test_three_messages_in_a_row_are_verbose_thinking() -> None:
    result = detect(trace(Message("Hmm."), Message("Let me think."), Message("Okay."), call(), ok()))
    assert (result.label, result.rule, result.turn) == ("verbose_thinking", "monologue", 3)


def test_long_thoughts_per_call_are_verbose_thinking() -> None:
    long_thought = " ".join(["word"] * (VERBOSE_WORDS_PER_CALL * 3))
    result = detect(trace(call(thought=long_thought), ok(), Message("Done.")))
    assert (result.label, result.rule) == ("verbose_thinking", "monologue_per_call")
    assert detect_state(trace(call(thought="short"), ok(), Message("Done.")))[0] == "making_progress"


def test_normal_work_is_making_progress() -> None:
    label, reason = detect_state(trace(call(q="a"), ok("1"), call("read", path="x"), ok("2", "read"), Message("Found it.")))
    assert label == "making_progress" and "no stuck pattern" in reason


def test_cosmetic_loops_need_near_identical_comparison() -> None:
    loop = trace(call(q="policy"), ok(), call(q="Policy "), ok(), call(q="policy (retry 3)"), ok())
    assert detect_state(loop)[0] == "making_progress"
    assert detect_state(loop, near_identical=True)[0] == "doom_loop"


def test_the_rules_fire_on_the_earliest_stuck_point_like_a_running_agent() -> None:
    polling = [turn for pct in (20, 60, 100) for turn in (call("status", id=7), ok(f"{pct}% done", "status"))]
    # OpenCode's rule ignores results: polling a changing status three times trips it
    assert detect(trace(*polling, Message("Deployed."))).label == "doom_loop"
    recovered = trace(call(q="x"), ok(), call(q="x"), ok(), call(q="x"), ok(), call(q="y"), ok("found"), Message("Done"))
    assert detect(recovered).turn == 6


def test_rule_predictions_cover_a_split_and_explain() -> None:
    task = load_task("agent_monitor")
    predictions = rule_predictions(task, "test")
    assert [ex.id for ex, _, _ in predictions] == [ex.id for ex in task.split("test")]
    for example, label, reason in predictions:
        assert (label, reason) == detect_state(example.raw)


def test_rule_predictions_refuse_text_tasks_and_foreign_labels(tmp_path) -> None:
    with pytest.raises(SmolgepaError, match="input_format: trace"):
        rule_predictions(load_task("sentiment"), "test")
    (tmp_path / "t.yaml").write_text(
        "name: t\ninput: trace\ninput_format: trace\nlabels: {stuck: s, fine: f}\ndata: t.jsonl\n", encoding="utf-8"
    )
    (tmp_path / "t.jsonl").write_text(
        '{"label": "stuck", "trace": {"task": "t", "turns": [{"role": "assistant", "content": "hi"}]}}\n', encoding="utf-8"
    )
    with pytest.raises(SmolgepaError, match="stuck, fine"):
        rule_predictions(load_task(tmp_path / "t.yaml"), "all")
