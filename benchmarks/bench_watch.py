"""The `smolgepa watch` figure for benchmarks/bench.py (issue 32): one update against reading afresh.

- `watch_update_vs_full`: the student's time for one update of a watched trace (the trace one step
  longer than the last one read, so the prompt extends the last prompt and its prefix is in the KV cache,
  and the `hidden` reading keeps the input's states) over the time for the same trace read afresh
  (after another trace, as `predict` reads one trace after another: only the instruction is cached).
  Each read is of a text not read before (the task line names the round), so no answer comes from a
  cache of recent queries.
  The trace is the longest of agent_monitor-extended whose `plain` rendering fits the task's token
  budget unclipped (past the budget, clipping rewrites the rendering each step and an update costs a
  whole read). The reading is `hidden`, fitted on agent_monitor's 5 training traces (the fit is not
  timed); `scored` is in the note. Embedded default student, no disk cache, interleaved, median round.
"""

from __future__ import annotations

import statistics
from bench_helpers import Figure
from smolgepa.adapter.program import seed_instruction
from smolgepa.student_settings import StudentSettings
from smolgepa.tasks import load_task
from smolgepa.traces import ToolResult, Trace, render_trace
from smolgepa.use.classifier import Classifier
from smolgepa.use.optimized import Optimized
from smolgepa.use.trace_monitor import TraceMonitor

MONITOR_TASK = "agent_monitor"
TRACE_TASK = "agent_monitor-extended"
BUDGET = 700


def unclipped(trace: Trace) -> bool:
    """The plain rendering within the budget is the trace's whole rendering (no field clipped, no turn left out)."""
    return render_trace(trace, "plain", BUDGET) == render_trace(trace, "plain", 10**6)


def long_trace() -> Trace:
    """The longest trace of TRACE_TASK that renders unclipped and ends in a tool result."""
    examples = sorted(load_task(TRACE_TASK).examples, key=lambda e: -len(e.raw.turns))
    return next(e.raw for e in examples if unclipped(e.raw) and isinstance(e.raw.turns[-1], ToolResult))


def renamed(trace: Trace, name: str, turns: int | None = None) -> Trace:
    """The trace (its first `turns` turns) under a task line that starts with `name`: a text never read before."""
    return Trace(f"{name}: {trace.task}", trace.turns[:turns])


def update_vs_full(decode: str, rounds: int) -> tuple[float, float, int, int]:
    """Median seconds of one update and of the same trace read afresh; the trace's turns before and after."""
    task = load_task(MONITOR_TASK)
    classifier = Classifier(Optimized(task, seed_instruction(task), StudentSettings(decode=decode), ""))
    monitor = TraceMonitor(classifier)
    trace = long_trace()
    before = len(trace.turns) - 2  # the last step: a call and its result
    monitor.read(renamed(trace, "Warm-up"), 0)  # the model, the reading's fit, the instruction in the KV cache
    updates, fulls = [], []
    for number in range(rounds):
        monitor.read(renamed(trace, f"Round {number}", before), 0)
        updates.append(monitor.read(renamed(trace, f"Round {number}"), 0).seconds)
        fulls.append(monitor.read(renamed(trace, f"Afresh {number}"), 0).seconds)
    classifier.close()
    return statistics.median(updates), statistics.median(fulls), before, len(trace.turns)


def watch_figure(rounds: int) -> Figure:
    """`watch_update_vs_full` with the hidden reading (scored's ratio in the note)."""
    update, full, before, turns = update_vs_full("hidden", rounds)
    scored_update, scored_full, _, _ = update_vs_full("scored", rounds)
    note = (f"{update * 1000:.0f} vs {full * 1000:.0f} ms, hidden reading, plain rendering, {before} -> {turns} turns "
            f"of one {TRACE_TASK} trace; scored: {scored_update * 1000:.0f} vs {scored_full * 1000:.0f} ms "
            f"({scored_update / scored_full:.2f})")
    return Figure("RATIO", "watch_update_vs_full", update / full, "<=", 0.3, note)
