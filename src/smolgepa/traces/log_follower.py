"""Follow a file another program is appending lines to: each `read` gives the complete lines written since.

A line is complete when its newline is written: a last line without one (the writer is mid-line) is
kept back until the rest arrives, never read half. A file that shrinks or is replaced (another inode)
is read again from its start, and the read says so; a file that does not exist yet reads as empty.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class NewLines:
    """What one read found: the complete lines (number, text), and whether the file started over."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    restarted: bool = False


class LogFollower:
    """The complete lines of a growing file, in order, each read once (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.number = 0  # lines handed out so far (blank ones included: numbers match the file's)
        self.pending = b""  # the start of a line whose newline is not written yet
        self._offset = 0
        self._inode: tuple[int, int] | None = None

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> NewLines:
        """The complete lines written since the last read (blank lines are counted, not returned)."""
        try:
            with self.path.open("rb") as handle:
                status = os.fstat(handle.fileno())
                restarted = self._restart_if_replaced((status.st_dev, status.st_ino), status.st_size)
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return NewLines()
        self._offset += len(data)
        *complete, self.pending = (self.pending + data).split(b"\n")
        return NewLines(self._numbered(complete), restarted)

    def finish(self) -> NewLines:
        """The last line held back for want of its newline, after `read` (the file is complete: `--once`)."""
        last, self.pending = self.pending, b""
        return NewLines(self._numbered([last]) if last.strip() else [])

    def _restart_if_replaced(self, inode: tuple[int, int], size: int) -> bool:
        replaced = self._inode is not None and (inode != self._inode or size < self._offset)
        self._inode = inode
        if replaced:
            self.number, self.pending, self._offset = 0, b"", 0
        return replaced

    def _numbered(self, raw: list[bytes]) -> list[tuple[int, str]]:
        lines = []
        for chunk in raw:
            self.number += 1
            text = chunk.decode("utf-8", errors="replace").removesuffix("\r")
            if self.number == 1:
                text = text.removeprefix("\ufeff")  # a byte-order mark
            if text.strip():
                lines.append((self.number, text))
        return lines
