"""What one `watch` update costs, through the real embedded model: the rendering of a growing trace grows
by appending (`plain`, `annotated`; not `summary`), and with the `hidden` reading an update evaluates
only what was appended, yet reads the trace as a fresh read does."""

from __future__ import annotations

import pytest

from smolgepa.adapter.program import seed_instruction
from smolgepa.student_settings import StudentSettings
from smolgepa.tasks import load_task
from smolgepa.traces import Trace, render_trace
from smolgepa.use.classifier import Classifier
from smolgepa.use.optimized import Optimized
from smolgepa.use.trace_monitor import TraceMonitor


def growing(trace: Trace) -> list[Trace]:
    return [Trace(trace.task, trace.turns[:n]) for n in range(1, len(trace.turns) + 1)]


def test_plain_and_annotated_renderings_grow_by_appending_and_summary_does_not() -> None:
    trace = next(e.raw for e in load_task("agent_monitor").examples if e.id == "am-03")
    for mode in ("plain", "annotated", "summary"):
        texts = [render_trace(t, mode) for t in growing(trace)]
        body = [text.split("\n\nCounts (whole trace):")[0] for text in texts]  # annotated: counts below the turns
        appended = all(later.startswith(earlier) for earlier, later in zip(body, body[1:]))
        assert appended == (mode != "summary"), mode


@pytest.mark.slow
def test_a_hidden_update_evaluates_what_was_appended_and_answers_as_a_fresh_read(embedded_spec: str) -> None:
    task = load_task("agent_monitor")  # the reading is fitted on its 5 training traces
    long = max((e.raw for e in load_task("agent_monitor-extended").examples
                if render_trace(e.raw, "plain") == render_trace(e.raw, "plain", 10**6)), key=lambda t: len(t.turns))

    def classifier() -> Classifier:
        settings = StudentSettings(student=embedded_spec, decode="hidden")
        return Classifier(Optimized(task, seed_instruction(task), settings, ""))

    def evaluated(clf: Classifier) -> int:
        hidden = clf.lm().engine.inner._hidden  # noqa: SLF001 - the reading's own llama.cpp context
        return hidden.evaluated if hidden is not None else 0

    watching, fresh = classifier(), classifier()
    # a fresh read of its own, not the rows the watching engine shares with engines on the same model file
    fresh.lm().engine.inner.fits.shared = None  # noqa: SLF001
    monitor = TraceMonitor(watching)
    try:
        for number, step in enumerate(growing(long)[len(long.turns) // 2 :: 2]):
            counts = [evaluated(watching), evaluated(fresh)]
            update = monitor.read(step, 0)
            answer = fresh.answer(fresh.render(step))
            update_tokens, fresh_tokens = evaluated(watching) - counts[0], evaluated(fresh) - counts[1]
            if number:  # the first read is a whole one
                assert update_tokens < fresh_tokens / 3, (update_tokens, fresh_tokens)
            assert update.label == answer.label
            assert update.scores == pytest.approx(answer.scores, abs=2e-3)
    finally:
        watching.close()
        fresh.close()
