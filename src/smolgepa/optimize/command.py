"""Running a CLI agent as a reflector: no shell, the prompt on stdin, a bounded answer from stdout,
the whole process group killed on timeout or interruption."""

from __future__ import annotations

import codecs
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from typing import IO

from smolgepa.errors import SmolgepaError
from smolgepa.optimize.cache import ReflectionReply

MAX_OUTPUT_BYTES = 1_000_000  # a CLI agent's answer beyond this is cut and the cut recorded
STDERR_KEPT_BYTES = 4_000  # only the end of stderr is shown in an error
PIPE_GRACE_SECONDS = 5.0  # after the child exits, how long a pipe held open by its children may stay open


def parse_command(text: str) -> list[str]:
    """`cmd:` arguments: shell-like quoting, split without a shell; a fully quoted command is split too."""
    try:
        args = shlex.split(text)
    except ValueError as exc:
        raise SmolgepaError(
            f"{'cmd:' + text!r}: cannot split the command ({exc}). Example: cmd:\"opencode run -m MODEL\"."
        ) from None
    if len(args) == 1 and " " in args[0].strip():
        args = shlex.split(args[0])
    if not args:
        raise SmolgepaError('cmd: needs a command, for example cmd:"opencode run -m opencode/big-pickle".')
    if shutil.which(args[0]) is None:
        raise SmolgepaError(
            f"Reflection command {args[0]!r} was not found ({'cmd:' + text!r}). Install it or give its full path."
        )
    return args


class CommandBackend:
    """Runs a CLI agent per prompt: no shell, prompt on stdin, answer on stdout, killed on timeout."""

    def __init__(self, args: list[str], timeout: float, max_output_bytes: int = MAX_OUTPUT_BYTES) -> None:
        self.args = list(args)
        self.timeout = timeout
        self.max_output_bytes = max_output_bytes

    def __call__(self, prompt: str) -> ReflectionReply:
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                self.args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout ends its children too
            )
        except OSError as exc:
            return ReflectionReply(error=f"could not start {self.args[0]!r}: {exc}", seconds=0.0)
        out = BoundedReader(process.stdout, self.max_output_bytes)
        err = BoundedReader(process.stderr, STDERR_KEPT_BYTES, keep_end=True)
        _send_prompt(process, prompt)
        try:
            process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.wait()
            return ReflectionReply(
                error=f"timed out after {self.timeout:g}s (command killed)", seconds=time.monotonic() - started
            )
        except BaseException:  # Ctrl-C or SIGTERM: the agent runs in its own session and would outlive us
            _kill_group(process)
            raise
        out.join(PIPE_GRACE_SECONDS)
        err.join(PIPE_GRACE_SECONDS)
        seconds = time.monotonic() - started
        if process.returncode != 0:
            tail = err.data.decode("utf-8", errors="replace").strip()[-300:] or "(no stderr)"
            return ReflectionReply(error=f"exited with status {process.returncode}: {tail}", seconds=seconds)
        notes: list[str] = []
        cut = out.total > len(out.data)
        if cut:
            notes.append(f"output of {out.total} bytes cut to {len(out.data)}")
        # final=False leaves a character split by the cut undecoded instead of marking it invalid
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(out.data, final=not cut)
        if "\ufffd" in text:
            notes.append("output was not valid UTF-8; undecodable bytes replaced")
        return ReflectionReply(text=text, seconds=seconds, notes=tuple(notes))


class BoundedReader:
    """Drains a pipe in a thread, keeping the first (or last) `limit` bytes and counting them all.

    Draining everything keeps a chatty child from blocking on a full pipe; keeping only `limit`
    bytes keeps an enormous answer out of memory.
    """

    def __init__(self, stream: IO[bytes] | None, limit: int, keep_end: bool = False) -> None:
        self.limit = limit
        self.keep_end = keep_end
        self.total = 0
        self._kept = bytearray()
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            while chunk := stream.read(65536):
                self.total += len(chunk)
                if self.keep_end:
                    self._kept += chunk
                    del self._kept[: max(0, len(self._kept) - self.limit)]
                elif len(self._kept) < self.limit:
                    self._kept += chunk[: self.limit - len(self._kept)]

    def join(self, timeout: float) -> None:
        """Wait until the pipe closes, at most `timeout` seconds (a detached grandchild may hold it)."""
        self._thread.join(timeout)

    @property
    def data(self) -> bytes:
        return bytes(self._kept)


def _send_prompt(process: subprocess.Popen[bytes], prompt: str) -> None:
    """Write the prompt to stdin in a thread: a child that never reads must not block us past the timeout."""

    def write() -> None:
        try:
            with process.stdin:  # type: ignore[union-attr]
                process.stdin.write(prompt.encode("utf-8"))  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass  # the child exited or closed stdin without reading everything: its answer still counts

    threading.Thread(target=write, daemon=True).start()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """End the command we started and anything it started (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
