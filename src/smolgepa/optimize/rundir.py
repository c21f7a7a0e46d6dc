"""The run directory: append-only JSONL records plus JSON files written atomically.

Layout of a run directory:
    config.json              the configuration (schema_version; no secrets), written once
    events.jsonl             one JSON object per line, appended as things happen
    summary.json             the current state of the run, rewritten atomically after every iteration
    cache/student.jsonl      every student completion, keyed by a hash of the full request
    cache/reflection.jsonl   every reflection call (prompt, answer or failure), keyed by a hash of the prompt
    cache/verifier.jsonl     every verifier answer (with --verifier), keyed by a hash of the verifier and prompt
    best_instruction.txt     the best instruction so far
    program.json             the best program, saved by DSPy (`make_program(task).load(path)`)

Writing goes through smolgepa.jsonfiles (atomic, redacted); reading through smolgepa.runrecord.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from smolgepa.errors import SmolgepaError
from smolgepa.jsonfiles import (  # noqa: F401 - the run directory's writers, importable from here too
    JsonlAppender,
    Redactor,
    dumps,
    read_jsonl,
    write_json_atomic,
    write_text_atomic,
)
from smolgepa.locks import LOCK_NAME
from smolgepa.runrecord import SCHEMA_VERSION, TOOL, RunSummary, run_config_json, summary_json


class RunDir:
    """Paths and writers of one run directory."""

    def __init__(self, path: str | Path, redact: Redactor | None = None) -> None:
        self.path = Path(path)
        self.redact = redact or Redactor()
        # Called before every write: the run's lock check (`RunLock.check`) once a process holds it.
        self.guard: Callable[[], None] = _no_guard

    config_file = property(lambda self: self.path / "config.json")
    events_file = property(lambda self: self.path / "events.jsonl")
    summary_file = property(lambda self: self.path / "summary.json")
    student_cache_file = property(lambda self: self.path / "cache" / "student.jsonl")
    reflection_cache_file = property(lambda self: self.path / "cache" / "reflection.jsonl")
    verifier_cache_file = property(lambda self: self.path / "cache" / "verifier.jsonl")
    best_instruction_file = property(lambda self: self.path / "best_instruction.txt")
    program_file = property(lambda self: self.path / "program.json")

    def exists(self) -> bool:
        return self.config_file.exists()

    def prepare(self, resume: bool) -> None:
        """Check the directory suits a new run (empty or absent) or a resumed one (has a config)."""
        if resume:
            if not self.exists():
                raise SmolgepaError(f"Cannot resume: {self.config_file} does not exist. Start a new run instead.")
            run_config_json(self.path)  # another tool's directory, or another schema version, is refused
            return
        if self.path.exists() and any(p.name != LOCK_NAME and not _temporary(p) for p in self.path.iterdir()):
            raise SmolgepaError(
                f"The run directory {self.path} is not empty. Pass --resume to continue that run, "
                "or choose another --run-dir."
            )
        self.path.mkdir(parents=True, exist_ok=True)

    def remove_temporaries(self) -> None:
        """Delete temporary files a killed process left half-written (call while holding the run's lock)."""
        for path in (*self.path.iterdir(), *self.path.glob("cache/*")):
            if _temporary(path):
                path.unlink(missing_ok=True)

    def write_config(self, config: dict[str, Any], extra: dict[str, Any]) -> None:
        data = {"schema_version": SCHEMA_VERSION, "tool": TOOL, "config": config, **extra}
        self.guard()
        write_json_atomic(self.config_file, data, self.redact)

    def write_summary(self, summary: RunSummary | dict[str, Any]) -> None:
        """summary.json: a `RunSummary` as it writes itself (a dict is written with the schema version)."""
        self.guard()
        data = summary.to_json() if isinstance(summary, RunSummary) else {"schema_version": SCHEMA_VERSION, **summary}
        write_json_atomic(self.summary_file, data, self.redact)

    def read_summary(self) -> dict[str, Any]:
        """summary.json as written (see smolgepa.runrecord for the typed form)."""
        return summary_json(self.path)

    def write_text(self, path: Path, text: str) -> None:
        self.guard()
        write_text_atomic(path, self.redact(text))


def _no_guard() -> None:
    """The guard of a run directory no process holds yet: every write may go ahead."""


def _temporary(path: Path) -> bool:
    """A file an atomic write had not yet renamed into place (`.NAME.XXXX.tmp`, `.program.json.tmp.json`)."""
    return path.name.startswith(".") and (path.name.endswith(".tmp") or path.name.endswith(".tmp.json"))
