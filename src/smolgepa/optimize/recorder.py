"""events.jsonl: what happened in a run, one JSON record per line, each written once.

A resumed run replays from the start with every student and reflection call served from the run
directory's caches, so it reaches exactly the same state; records already in events.jsonl (the seed's
evaluation, finished iterations) are not written twice.
"""

from __future__ import annotations

import time
from typing import Any

from smolgepa.runrecord import Iteration
from smolgepa.optimize.rundir import JsonlAppender, RunDir, read_jsonl
from smolgepa.runrecord import SCHEMA_VERSION


class EventRecorder:
    """Appends events to a run directory's events.jsonl, remembering what an earlier process wrote."""

    def __init__(self, run_dir: RunDir) -> None:
        existing = read_jsonl(run_dir.events_file)
        self.recorded = {e["iteration"]: e for e in existing if e.get("event") == "iteration"}
        self.seed_recorded = any(e.get("event") == "seed_evaluated" for e in existing)
        self.events = JsonlAppender(run_dir.events_file, run_dir.redact, run_dir.guard)

    def emit(self, event: str, **data: Any) -> None:
        """Append one event (`schema_version` as in summary.json)."""
        self.events.append({"event": event, "time": time.time(), "schema_version": SCHEMA_VERSION, **data})

    def seed_evaluated(self, candidate: dict[str, Any], val_examples: list[dict[str, Any]]) -> None:
        """Record the seed's evaluation, unless an earlier process did."""
        if not self.seed_recorded:
            self.emit("seed_evaluated", candidate=candidate, val_examples=val_examples)
            self.seed_recorded = True

    def first_seconds(self, iteration: int) -> float | None:
        """The wall time an earlier process recorded for this iteration, if it did."""
        earlier = self.recorded.get(iteration)
        return earlier["seconds"] if earlier else None

    def iteration(self, record: Iteration) -> None:
        """Record a finished iteration, unless an earlier process did."""
        if record.iteration not in self.recorded:
            self.emit("iteration", **record.to_json())
            self.recorded[record.iteration] = {"seconds": record.seconds}
