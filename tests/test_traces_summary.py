"""The `summary` rendering: short, deterministic, and carrying every evidence figure on its own line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smolgepa.errors import SmolgepaError
from smolgepa.lm.student import Student
from smolgepa.tasks import load_task
from smolgepa.traces import Message, ToolCall, ToolResult, Trace, approx_tokens, render_trace
from smolgepa.traces.figures import FIGURES, figures
from smolgepa.traces.summary import SUMMARY_MAX_TOKENS

REAL_TOKEN_LIMIT = 110  # well under the brief's 150: a summary costs about a quarter of a plain trace (~400)


def read_figures(summary: str) -> dict[str, int]:
    """The figures as a reader of the summary finds them: the number after each line's name."""
    found = {}
    for figure in FIGURES:
        match = re.search(rf"^{re.escape(figure.line)}: (\d+)", summary, flags=re.MULTILINE)
        assert match is not None, f"no line {figure.line!r} in:\n{summary}"
        found[figure.key] = int(match.group(1))
    return found


@pytest.fixture(scope="module")
def extended() -> tuple:
    return load_task("agent_monitor-extended", render="summary"), load_task("agent_monitor-extended")


def test_every_extended_summary_is_within_budget_and_carries_its_figures(extended: tuple) -> None:
    summary_task, plain_task = extended
    count_real, method = Student("embedded").token_counter()
    assert method == "tokenizer"
    assert len(summary_task.examples) == 300
    worst = 0
    for example, plain in zip(summary_task.examples, plain_task.examples):
        assert example.id == plain.id and example.input != plain.input
        assert approx_tokens(example.input) <= SUMMARY_MAX_TOKENS
        worst = max(worst, count_real(example.input))
        assert read_figures(example.input) == figures(example.raw)
        assert example.input.startswith("Task: ")
        assert ", first " in example.input.splitlines()[1]
    assert worst < REAL_TOKEN_LIMIT, worst


def test_summary_names_the_repeated_error_the_tools_and_the_calls() -> None:
    turns: list = [ToolCall("search_docs", {"q": "refund policy"}, thought="Look it up.")]
    for _ in range(4):
        turns += [ToolCall("create_ticket", {"file": "x"}), ToolResult("create_ticket", "unexpected argument 'file'", True)]
    turns += [Message("I will stop here.")]
    text = render_trace(Trace("Open a refund ticket for order 1182.", tuple(turns)), mode="summary")
    assert "Same call repeated: 4\n" in text
    assert "Same error repeated: 4 (\"unexpected argument 'file'\")" in text
    assert "Tools: 2\n" in text
    assert "Calls: 5, first search_docs, last create_ticket\n" in text
    assert text.startswith("Task: Open a refund")
    assert "Errors: 4" in text and "Calls: 5" in text
    assert render_trace(Trace("Open a refund ticket for order 1182.", tuple(turns)), mode="summary") == text


def test_long_free_text_is_clipped_to_fit_the_budget() -> None:
    long = "word " * 400
    turns = (ToolCall("tool_" + "x" * 200, {"a": long}, thought=long), ToolResult("t", long, True),
             ToolCall("tool_" + "x" * 200, {"a": long}), ToolResult("t", long, True))
    text = render_trace(Trace(long, turns), mode="summary")
    assert approx_tokens(text) <= SUMMARY_MAX_TOKENS
    assert read_figures(text)["words_per_call"] == figures(Trace(long, turns))["words_per_call"]
    assert render_trace(Trace(long, turns), mode="summary", max_tokens=80) != text  # a smaller budget clips harder


def test_task_yaml_accepts_render_summary_and_plain_is_unchanged(tmp_path: Path) -> None:
    source = Path(load_task("agent_monitor").source)
    spec = source.read_text(encoding="utf-8").replace("render: plain", "render: summary")
    (tmp_path / "agent_monitor.jsonl").write_text((source.parent / "agent_monitor.jsonl").read_text(encoding="utf-8"))
    (tmp_path / "task.yaml").write_text(spec, encoding="utf-8")
    task = load_task(str(tmp_path / "task.yaml"))
    assert task.render == "summary"
    assert all(ex.input == render_trace(ex.raw, mode="summary") for ex in task.examples)
    plain = load_task("agent_monitor")
    assert all(ex.input == render_trace(ex.raw, mode="plain", max_tokens=700) for ex in plain.examples)
    assert "Same call repeated" not in plain.examples[0].input
    (tmp_path / "bad.yaml").write_text(spec.replace("render: summary", "render: digest"), encoding="utf-8")
    with pytest.raises(SmolgepaError, match="summary"):
        load_task(str(tmp_path / "bad.yaml"))
