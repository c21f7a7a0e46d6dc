"""The reliability suites' counts, summed over a test session and printed as one line at its end.

Tests add what they did (`tally.add("kills", 1)`); `conftest.py` prints
`faults injected: N, kills: K, resumes equal: K, bad inputs: B, results lost: L` when any suite ran.
"""

from __future__ import annotations

from collections import Counter

NAMES = ("faults injected", "kills", "resumes equal", "bad inputs", "results lost")
_counts: Counter[str] = Counter()


def add(name: str, count: int = 1) -> None:
    """Add `count` to one of NAMES."""
    if name not in NAMES:
        raise ValueError(f"unknown tally {name!r}; use one of {NAMES}")
    _counts[name] += count


def ran() -> bool:
    """Whether any reliability suite reported in this session."""
    return any(_counts[name] for name in NAMES)


def counts() -> dict[str, int]:
    """This process's counts (a pytest-xdist worker hands them to the controller)."""
    return {name: _counts[name] for name in NAMES}


def merge(counts: dict[str, int]) -> None:
    """Add another process's `counts` (the controller, once per finished worker)."""
    for name, count in counts.items():
        add(name, count)


def line() -> str:
    """The session's one-line summary."""
    return ", ".join(f"{name}: {_counts[name]}" for name in NAMES)
