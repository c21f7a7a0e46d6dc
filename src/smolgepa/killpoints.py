"""Crash points for the crash-consistency tests: `SMOLGEPA_TEST_KILL_AT=POINT:N` makes the process
SIGKILL itself the N-th time it reaches POINT, half-way through a write. Unset (always, outside the
tests), `armed` is False and nothing changes.

Points: `append` (a JSONL record in a run directory: events, student or reflection cache) and `atomic`
(a JSON or text file written through a temporary file: summary.json, config.json, the best instruction).
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "SMOLGEPA_TEST_KILL_AT"
POINTS = ("append", "atomic")


def _parse(value: str) -> tuple[str, int] | None:
    point, _, count = value.partition(":")
    if point not in POINTS or not count.isdigit() or int(count) < 1:
        return None
    return point, int(count)


_TARGET = _parse(os.environ.get(ENV, ""))
_reached = {point: 0 for point in POINTS}
_lock = threading.Lock()


def armed(point: str) -> bool:
    """Whether this process may be killed at `point` (only when the tests set the variable)."""
    return _TARGET is not None and _TARGET[0] == point


def reached(point: str) -> None:
    """Count one arrival at `point`; on the chosen one, die at once as SIGKILL would (no cleanup, no flush)."""
    if not armed(point):
        return
    with _lock:
        _reached[point] += 1
        if _TARGET is not None and _reached[point] == _TARGET[1]:
            os.kill(os.getpid(), signal.SIGKILL)
