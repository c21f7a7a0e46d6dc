"""The `calls` record of a run's summary.json: calls to the student, the reflection model and the verifier,
with how many the run cache answered (one type writes and reads each: `to_json`, `read_calls`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CallCount:
    """Calls to one model: made, served from the run cache, seconds spent on the others."""

    calls: int = 0
    cached: int = 0
    seconds: float = 0.0
    context_overflows: int = 0

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, Any] = {"calls": self.calls, "cached": self.cached, "seconds": self.seconds}
        if self.context_overflows:
            counts["context_overflows"] = self.context_overflows
        return counts


@dataclass(frozen=True)
class VerifierCount(CallCount):
    """Calls to the verifier, and its replies that gave no explanation: junk (no label word, or a label
    outside the task's set) and those naming another label than the gold one (`disagreed`)."""

    junk: int = 0
    no_label: int = 0
    outside: int = 0
    disagreed: int = 0
    junk_line: str = ""  # the one line a run reports about junk ('' for none)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "junk": self.junk, "no_label": self.no_label, "outside": self.outside,
                "disagreed": self.disagreed, "junk_line": self.junk_line}


@dataclass(frozen=True)
class Calls:
    student: CallCount | None = None
    reflection: CallCount | None = None
    wall_seconds_this_process: float = 0.0
    verifier: VerifierCount | None = None  # only for a run with --verifier

    def to_json(self) -> dict[str, Any]:
        data = {"student": self.student.to_json() if self.student else None,
                "reflection": self.reflection.to_json() if self.reflection else None,
                "wall_seconds_this_process": self.wall_seconds_this_process}
        if self.verifier is not None:
            data["verifier"] = self.verifier.to_json()
        return data


def _known(cls: Any, data: dict[str, Any] | None) -> Any:
    """A dataclass from the keys it knows (a record from an older or newer writer may have others)."""
    names = set(cls.__dataclass_fields__)
    return cls(**{k: v for k, v in (data or {}).items() if k in names})


def read_calls(data: dict[str, Any] | None) -> Calls:
    """The `calls` record as written by `Calls.to_json` (None or missing parts read as absent)."""
    data = data or {}
    student, reflection, verifier = data.get("student"), data.get("reflection"), data.get("verifier")
    return Calls(_known(CallCount, student) if student else None, _known(CallCount, reflection) if reflection else None,
                 float(data.get("wall_seconds_this_process") or 0.0),
                 _known(VerifierCount, verifier) if verifier else None)
