"""Locks across processes: one process at a time in a run directory (`RunLock`, an advisory `flock`
on its `.lock` file), and one writer of a converted model file (`file_lock`).

The kernel drops a `flock` when its process ends, however it ends (SIGKILL, a crash, a power cut
of the machine), so a lock is never left stale and there is nothing to clean up. The file keeps the
pid of the last holder, only to name it in the refusal.

A lock on a file cannot stop the directory itself being removed or replaced (`rm -rf`, a study
installing a worker's copy of the cell): `check` sees that the `.lock` file there is no longer the one
held, and the run's writers call it before each write, so a run never writes into a directory it no
longer owns.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from smolgepa.errors import RunDirReplacedError, SmolgepaError

LOCK_NAME = ".lock"


class RunLock:
    """Held while a process writes a run directory; a second process is refused in one line."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise SmolgepaError naming the process that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise SmolgepaError(
                f"Another smolgepa process (pid {holder}) is using the run directory {self.path.parent}. "
                "Wait for it to end (or stop it), then continue with --resume; or choose another --run-dir."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            pass  # the pid only names the holder in a refusal; a full disk must not stop the run here
        self._fd = fd

    def check(self) -> None:
        """Raise SmolgepaError if the run directory was removed or replaced since the lock was taken."""
        if self._fd is None:
            return
        held = os.fstat(self._fd)
        try:
            present = os.stat(self.path)
        except FileNotFoundError:
            present = None
        if present is None or (present.st_dev, present.st_ino) != (held.st_dev, held.st_ino):
            raise RunDirReplacedError(
                f"The run directory {self.path.parent} was removed or replaced while this process "
                f"(pid {os.getpid()}) was writing it; stopping so that two runs' records do not mix. "
                "What this run had written there went with it: start a new run (another --run-dir), "
                "or --resume the directory now there if it holds the run you meant."
            )

    def release(self) -> None:
        """Let the next process in (closing the file drops the lock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock across processes, released when the block ends."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
