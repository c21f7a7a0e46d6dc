"""A classifier beside a running agent: the state of a growing trace after each new step (`smolgepa watch`).

`watch_file` follows a trace file (`traces.log_follower`), reads its lines into the trace so far
(`traces.trace_feed`) and, each time the trace has grown, asks a `TraceMonitor` for its state: one
`MonitorUpdate` (the label, its probability, whether it changed). Lines that arrive together are read
together: one update covers them.

An update costs what was appended, not the whole trace: the `plain` and `annotated` renderings grow
by appending turns (`annotated` rewrites its counts below them), so the student's prompt extends the
last one and the embedded student reuses its KV cache for the shared prefix (the `hidden` reading
keeps the input's states too: `EmbeddedEngine.follow_growing_inputs`). `summary` restates its counts at
the top, so it is read whole each time (it is short); a trace that outgrows the task's token budget is
clipped anew each step, and read whole from then on: the monitor says so once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.lm.fit_file import innermost_engine
from smolgepa.traces.log_follower import LogFollower
from smolgepa.traces.trace_feed import TraceFeed, agent_steps
from smolgepa.traces.trace_model import Trace
from smolgepa.use.classifier import Classifier


@dataclass(frozen=True)
class MonitorUpdate:
    """The state of the trace after one read: its label (None if unreadable) and probability (None
    when the reading gives none), the label before it (None for the first update)."""

    number: int  # 1 for the first update
    line: int  # the file's last line read
    turns: int
    steps: int  # the agent's tool calls and messages
    label: str | None
    probability: float | None
    scores: dict[str, float | None] | None
    previous: str | None
    seconds: float  # the student's time for this update

    @property
    def changed(self) -> bool:
        """The state differs from the update before."""
        return self.number > 1 and self.label != self.previous

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": "update", "update": self.number, "line": self.line, "turns": self.turns,
                                "step": self.steps, "label": self.label, "p": self.probability}
        if self.scores is not None:
            data["scores"] = self.scores
        data.update(changed=self.changed, previous=self.previous, seconds=round(self.seconds, 3))
        return data


class TraceMonitor:
    """Reads the state of a trace each time it grows, with one classifier (see the module docstring)."""

    def __init__(self, classifier: Classifier, on_note: Callable[[str], None] | None = None) -> None:
        if classifier.task.input_format != "trace":
            raise SmolgepaError(f"The task {classifier.task.name} classifies text, not agent traces: "
                                "watch a trace task's run (agent_monitor, agent_monitor-extended, ...).")
        self.classifier = classifier
        self.on_note = on_note or (lambda line: None)
        self.last: MonitorUpdate | None = None
        self._text = ""
        self._said_clipped = False
        follow = getattr(innermost_engine(classifier.lm().engine), "follow_growing_inputs", None)
        if callable(follow):
            follow()

    def read(self, trace: Trace, line: int) -> MonitorUpdate:
        """The state of `trace` (the file read up to `line`)."""
        text = self.classifier.render(trace)
        self._check_prefix(text)
        started = time.perf_counter()
        answer = self.classifier.answer(text)
        seconds = time.perf_counter() - started
        probability = (answer.scores or {}).get(answer.label) if answer.label is not None else None
        update = MonitorUpdate(
            number=self.last.number + 1 if self.last else 1, line=line, turns=len(trace.turns),
            steps=agent_steps(trace), label=answer.label, probability=probability, scores=answer.scores,
            previous=self.last.label if self.last else None, seconds=seconds,
        )
        self.last = update
        return update

    def _check_prefix(self, text: str) -> None:
        """Say once when the rendering stops growing by appending (the trace outgrew the token budget)."""
        old, self._text = self._text, text
        if not old or self._said_clipped or self.classifier.task.render == "summary":
            return
        if old.partition("\n")[0] != text.partition("\n")[0]:
            return  # another trace (a new request, the file started over)
        shared = next((i for i, (a, b) in enumerate(zip(old, text)) if a != b), min(len(old), len(text)))
        if shared < len(old) // 2:
            self._said_clipped = True
            budget = self.classifier.task.meta.get("max_input_tokens", 700)
            self.on_note(f"smolgepa: the trace no longer fits the task's {budget}-token budget: its rendering is "
                         "clipped anew at each step, so each update reads the whole trace again (slower).")


def watch_file(
    path: str | Path,
    monitor: TraceMonitor,
    on_update: Callable[[MonitorUpdate], None],
    on_bad_line: Callable[[str], None],
    *,
    log_format: str | None = None,
    once: bool = False,
    poll: float = 0.5,
    on_note: Callable[[str], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> MonitorUpdate | None:
    """Follow `path`, calling `on_update` each time the trace grows, `on_bad_line` for each line refused
    and `on_note` while waiting for a trace or when the file starts over; with `once`, read to the end
    and return the last update. Otherwise runs until `stop()` holds (checked between reads, so a step
    being read is finished first) and returns the last update, or until interrupted (KeyboardInterrupt
    propagates; `monitor.last` is the last update)."""
    follower = LogFollower(path)
    feed = TraceFeed(str(path), log_format)
    if once and not follower.exists:
        raise SmolgepaError(f"{path} does not exist: pass the trace file the agent writes.")
    note = on_note or (lambda line: None)
    said_waiting = False
    read_turns: Trace | None = None
    while stop is None or not stop():
        found = follower.read()
        cut_off = follower.finish().lines if once else []
        if found.restarted:
            feed.reset()
            read_turns = None
            note(f"smolgepa: {path} was truncated or replaced: reading it from the start.")
        for number, text in found.lines:
            problem = feed.add(number, text)
            if problem:
                on_bad_line(f"smolgepa: {problem}")
        for number, text in cut_off:  # --once: a last line without its newline is read if it is whole
            problem = feed.add(number, text)
            if problem and not _is_json(text):
                problem = (f"{path}:{number}: the last line is cut off (no newline, not a whole JSON object): the "
                           "agent may still be writing it; the line is skipped. Run again when it is written, or "
                           "watch without --once.")
            if problem:
                on_bad_line(f"smolgepa: {problem}")
        trace = feed.trace
        if trace is not None and trace != read_turns:
            on_update(monitor.read(trace, follower.number))
            read_turns = trace
        if once:
            if monitor.last is None:
                raise SmolgepaError(f"{path} holds no trace yet (a request and at least one turn): "
                                    "check the file, or follow it without --once until the agent writes one.")
            return monitor.last
        if not said_waiting and monitor.last is None:
            state = "does not exist yet" if not follower.exists else "holds no trace yet"
            note(f"smolgepa: {path} {state}; waiting for the agent to write one (Ctrl-C stops).")
            said_waiting = True
        time.sleep(poll)
    return monitor.last


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True
