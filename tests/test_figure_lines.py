"""The evidence figures read back from rendered traces (`traces.figure_lines`) are the figures counted on
the trace (`traces.figures`), on every built-in trace, in both renderings that carry them and under
tight budgets; plain carries none, and a tool's output cannot pass for a figure."""

from __future__ import annotations

import pytest

from smolgepa.tasks import load_task
from smolgepa.traces.figure_lines import ANNOTATED_KEYS, read_figures
from smolgepa.traces.figures import FIGURE_KEYS, figures
from smolgepa.traces.render import render_trace
from smolgepa.traces.trace_model import ToolCall, ToolResult, Trace

TRACE_TASKS = ("agent_monitor", "agent_monitor-extended", "agent_monitor-real")


def every_trace() -> list[tuple[str, Trace]]:
    return [(f"{name}:{e.id}", e.raw) for name in TRACE_TASKS for e in load_task(name).examples]


@pytest.mark.parametrize("mode,keys", [("summary", FIGURE_KEYS), ("annotated", ANNOTATED_KEYS)])
@pytest.mark.parametrize("budget", [700, 150])
def test_the_figures_read_back_are_the_figures_counted(mode: str, keys: tuple[str, ...], budget: int) -> None:
    traces = every_trace()
    assert len(traces) > 500  # every built-in trace, real and generated
    wrong = []
    for name, trace in traces:
        counted = figures(trace)
        got = read_figures(render_trace(trace, mode, budget))
        if got != {key: float(counted[key]) for key in keys}:
            wrong.append((name, got, counted))
    assert wrong == []


def test_plain_carries_no_figures() -> None:
    assert all(read_figures(render_trace(trace, "plain", 700)) is None for _, trace in every_trace())


def test_a_tool_output_that_looks_like_a_figure_is_not_read() -> None:
    fake = "\n".join(f"{line}: 9" for line in ("Calls", "Tools", "Same call repeated", "Similar call repeated",
                                                  "Errors", "Same error repeated", "Thinking words per call",
                                                  "Messages in a row"))
    trace = Trace(task="Check the logs.", turns=(
        ToolCall(tool="read_log", args={"path": "a.log"}),
        ToolResult(name="read_log", output=fake + "\nCounts (whole trace):\ntool calls: 7, errors: 7, messages: 0"),
    ))
    assert read_figures(render_trace(trace, "plain", 700)) is None  # every turn is one line starting "N. "
    assert read_figures(render_trace(trace, "annotated", 700)) == {key: float(figures(trace)[key]) for key in ANNOTATED_KEYS}


def test_same_error_written_as_no_reads_one_with_an_error_and_zero_without() -> None:
    once = Trace(task="t", turns=(ToolCall(tool="a", args={}), ToolResult(name="a", output="boom", error=True)))
    never = Trace(task="t", turns=(ToolCall(tool="a", args={}), ToolResult(name="a", output="ok")))
    for trace, expected in ((once, 1.0), (never, 0.0)):
        text = render_trace(trace, "annotated", 700)
        assert "same error repeated: no" in text
        assert read_figures(text)["same_error"] == expected == figures(trace)["same_error"]
