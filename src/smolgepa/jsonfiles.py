"""JSON files written safely: atomic JSON/text writes, append-only JSONL, and redaction of secrets.

A process killed at any moment leaves at worst one partial last line in a JSONL file, which
readers skip (and which the next append removes). A write that finds the disk full raises
`DiskFullError` naming the file and leaves the file as it was (an append's part-line is cut off,
an atomic write's temporary file removed).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from smolgepa import killpoints
from smolgepa.errors import DiskFullError, SmolgepaError

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
MIN_SECRET_LENGTH = 8
log = logging.getLogger(__name__)


class Redactor:
    """Removes the values of secret-looking environment variables from text before it is written,
    and those of the variables named in `key_envs` (the run's --api-key-env / --reflection-key-env),
    whatever their names look like."""

    def __init__(self, environ: dict[str, str] | None = None, key_envs: Iterable[str | None] = ()) -> None:
        env = os.environ if environ is None else environ
        named = {name for name in key_envs if name}
        found = {
            value: name
            for name, value in env.items()
            if (_SECRET_NAME.search(name) or name in named) and len(value.strip()) >= MIN_SECRET_LENGTH
        }
        self._secrets = sorted(found.items(), key=lambda item: -len(item[0]))

    def __call__(self, text: str) -> str:
        for value, name in self._secrets:
            if value in text:
                text = text.replace(value, f"[redacted {name}]")
        return text


def dumps(record: Any, redact: Redactor) -> str:
    """One line of JSON with secrets redacted."""
    return redact(json.dumps(record, ensure_ascii=False, sort_keys=False, default=str))


def write_json_atomic(path: Path, data: Any, redact: Redactor) -> None:
    """Write JSON to a temporary file in the same directory, then rename it over `path`."""
    text = redact(json.dumps(data, ensure_ascii=False, indent=2, default=str)) + "\n"
    write_text_atomic(path, text)


FULL = {errno.ENOSPC: "the filesystem is full", errno.EDQUOT: "the disk quota is used up",
        errno.EFBIG: "the file size limit (ulimit -f) is reached"}


@contextlib.contextmanager
def disk_full_errors(path: Path) -> Iterator[None]:
    """Turn "no space left" (and quota, file size limit) errors while writing `path` into one DiskFullError."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in FULL:
            raise
        raise DiskFullError(
            f"Cannot write {path}: {FULL[exc.errno]} ({exc.strerror}). Free space there (`df {path.parent}`); "
            "what was written before is intact."
        ) from None


@contextlib.contextmanager
def atomic_stream(path: Path, binary: bool = False) -> Iterator[Any]:
    """A stream to a temporary file beside `path`; when the block ends the file is fsynced and renamed
    over `path`, and when it fails the temporary file is removed and `path` is as it was."""
    with disk_full_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8") as stream:
                yield stream
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file in the same directory, then rename it over `path`."""
    with atomic_stream(path) as stream:
        if killpoints.armed("atomic"):  # the crash tests die half-way through this write
            stream.write(text[: len(text) // 2])
            stream.flush()
            killpoints.reached("atomic")
            text = text[len(text) // 2:]
        stream.write(text)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The complete records of a JSONL file. A last line without its newline was cut short by a
    crash (each record is written with its newline in one call) and is skipped, even when it parses."""
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    lines = path.read_bytes().split(b"\n")
    lines.pop()  # after the last newline: empty, or a record cut short
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise SmolgepaError(f"{path}:{number}: not a JSON record. The file is damaged; start a new run.") from None
        if isinstance(record, dict):
            records.append(record)
    return records


class JsonlAppender:
    """Appends one JSON record per line; each line is written with one call and flushed at once."""

    def __init__(self, path: Path, redact: Redactor, guard: Callable[[], None] | None = None) -> None:
        self.path = path
        self._redact = redact
        self._guard = guard  # raises if the file's directory is no longer ours to write (a run's lock)
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_partial_last_line(path)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record; on a full disk, cut off what part of it was written and raise DiskFullError."""
        line = (dumps(record, self._redact) + "\n").encode("utf-8")
        if self._guard is not None:
            self._guard()
        with self._lock, disk_full_errors(self.path), open(self.path, "ab", buffering=0) as stream:
            size = stream.seek(0, os.SEEK_END)
            try:
                written = 0
                if killpoints.armed("append"):  # the crash tests die half-way through this line
                    written = stream.write(line[: len(line) // 2]) or 0
                    killpoints.reached("append")
                while written < len(line):  # an unbuffered write may write less than asked
                    written += stream.write(line[written:]) or 0
            except OSError:
                stream.truncate(size)
                raise


def _drop_partial_last_line(path: Path) -> None:
    """Cut a line left unfinished by a killed process (with one warning), so the next record starts on
    its own line; what that record held (a call, an event) is done again."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    keep = data.rfind(b"\n") + 1
    log.warning("%s: dropped a partial last line (%d bytes) left by an interrupted run; what it held is done again.",
                path, len(data) - keep)
    with open(path, "r+b") as stream:
        stream.truncate(keep)
