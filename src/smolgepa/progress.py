"""Progress on stderr, the same way for every command (`eval`, `optimize`, `study`, `predict`, `compare`).

On a terminal: a live bar with count, rate and ETA (tqdm), and whole lines written above it. Otherwise
(a pipe, a log file): plain lines, a count line at most every `interval` seconds and at the end.
`--quiet` or `--json`: nothing. One `Progress` may count several stages one after another (`start`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

MODES = ("bar", "lines", "off")
LINE_INTERVAL = 10.0  # seconds between two count lines when stderr is not a terminal


class Progress:
    """A count of work done (`start`, `advance`, `update`), whole lines (`say`), one stream, thread-safe."""

    def __init__(self, mode: str = "bar", stream: TextIO | None = None, interval: float = LINE_INTERVAL,
                 prefix: str = "", counts: bool = True) -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r}: use one of {', '.join(MODES)}")
        self.mode = mode
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.prefix = prefix
        self.counts = counts  # False: whole lines only (a library caller's line callback)
        self._lock = threading.RLock()
        self._bar: Any = None
        self._desc, self._total, self._done, self._note = "", None, 0, ""
        self._started = self._last_line = 0.0

    def start(self, desc: str, total: int | None = None, unit: str = "it") -> None:
        """Begin counting a new stage (the previous one is closed)."""
        with self._lock:
            self.close()
            self._desc, self._total, self._done, self._note = desc, total, 0, ""
            self._started = self._last_line = time.monotonic()
            if self.mode == "bar":
                from tqdm import tqdm

                self._bar = tqdm(total=total, desc=self.prefix + desc, unit=unit, file=self.stream,
                                 dynamic_ncols=True, mininterval=0.2, smoothing=0.1, leave=True)

    def advance(self, n: int = 1) -> None:
        """`n` more units done."""
        with self._lock:
            self.update(self._done + n)

    def update(self, done: int, total: int | None = None, note: str | None = None) -> None:
        """Set the count (and the total, and a short note shown beside it)."""
        with self._lock:
            if total is not None:
                self._total = total
            if note is not None:
                self._note = note
            self._done = done
            if self._bar is not None:
                # past its total tqdm drops the bar (GEPA may overshoot its budget by one evaluation)
                self._bar.total = None if self._total is None else max(self._total, done)
                if note is not None:
                    self._bar.set_postfix_str(note, refresh=False)
                self._bar.update(done - self._bar.n)
            elif self.mode == "lines" and self.counts:
                now = time.monotonic()
                if now - self._last_line >= self.interval or (self._total is not None and done >= self._total):
                    self._last_line = now
                    self._write(count_line(self._desc, done, self._total, now - self._started, self._note))

    def say(self, line: str) -> None:
        """A whole line (above the bar on a terminal)."""
        with self._lock:
            if self.mode == "off":
                return
            self._line_above(self.prefix + line)

    def warn(self, line: str) -> None:
        """A line that is shown even when quiet (a skipped input, say), above the bar on a terminal."""
        with self._lock:
            self._line_above(self.prefix + line)

    def counter(self, desc: str, unit: str = "ex") -> Callable[[int, int], None]:
        """A `(done, total)` callback (smolgepa.evaluation.evaluate.predict) counting one stage named `desc`."""
        started = False

        def report(done: int, total: int) -> None:
            nonlocal started
            with self._lock:
                if not started:
                    started = True
                    self.start(desc, total, unit)
                self.update(done, total)

        return report

    def prefixed(self, prefix: str) -> Progress:
        """A Progress on the same stream and mode whose lines and bars start with `prefix`."""
        return Progress(self.mode, self.stream, self.interval, prefix, self.counts)

    def close(self) -> None:
        """End the current stage (the bar stays on screen)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def _line_above(self, line: str) -> None:
        """`line` on its own row; on a terminal the bar is cleared first and drawn again below it."""
        if self._bar is None:
            self._write(line)
            return
        self._bar.clear()
        self._write(line)
        self._bar.refresh()

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def count_line(desc: str, done: int, total: int | None, seconds: float, note: str = "") -> str:
    """`desc: 12/40 (30%), 1.5/s, ETA 0:19, note` (no ETA without a total or a rate)."""
    rate = done / seconds if seconds > 0 else 0.0
    parts = [f"{desc}: {done}/{total} ({100 * done // total if total else 100}%)" if total else f"{desc}: {done}"]
    parts.append(f"{rate:.2f}/s")
    if total and rate > 0 and done < total:
        parts.append(f"ETA {clock((total - done) / rate)}")
    if note:
        parts.append(note)
    return ", ".join(parts)


def clock(seconds: float) -> str:
    """`1:02:03`, `2:03`: whole seconds as a clock."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def stderr_progress(quiet: bool = False, stream: TextIO | None = None) -> Progress:
    """The progress of a command: a bar on a terminal, plain lines otherwise, nothing when `quiet`."""
    stream = stream if stream is not None else sys.stderr
    if quiet:
        return Progress("off", stream)
    return Progress("bar" if _is_terminal(stream) else "lines", stream)


def as_progress(progress: Progress | Callable[[str], None] | None) -> Progress:
    """A Progress for library callers who pass a line callback (or nothing)."""
    if isinstance(progress, Progress):
        return progress
    if progress is None:
        return Progress("off")
    return Progress("lines", _LineSink(progress), counts=False)


class _LineSink:
    """A text stream that hands each whole line to a callback."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        self.callback = callback

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.callback(line)
        return len(text)

    def flush(self) -> None:
        pass


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
