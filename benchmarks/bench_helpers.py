"""What the benchmark scripts share: a printed figure with its target, timing helpers and the load
average. `bench.py` dispatches to bench_speed.py, bench_traces.py and bench_scale.py; all four import
these from here, and none imports bench.py."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dspy

from smolgepa.lm.response_cache import CachedEngine


@dataclass(frozen=True)
class Figure:
    """One printed figure and its target (`op` is `>=` or `<=`; None: no target)."""

    kind: str  # RATIO or FIGURE
    name: str
    value: float | None
    op: str | None = None
    target: float | None = None
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.value is None or self.op is None or self.target is None:
            return None
        return self.value >= self.target if self.op == ">=" else self.value <= self.target

    def line(self) -> str:
        if self.value is None:
            return f"# {self.kind} {self.name} skipped: {self.note}"
        text = f"{self.kind} {self.name} {self.value:.3g}"
        if self.op is not None:
            text += f" target {self.op} {self.target:g}"
        return text + (f"  # {self.note}" if self.note else "")


def say(text: str) -> None:
    print(text, flush=True)


def median_rounds(rounds: int, *steps: Callable[[], float]) -> list[float]:
    """Run each step once per round, in turn, `rounds` times; the median of each step's results."""
    results: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for index, step in enumerate(steps):
            results[index].append(step())
    return [statistics.median(values) for values in results]


def raw_engine(lm: dspy.LM) -> Any:
    """The EmbeddedEngine inside an LM (under a CachedEngine if there is one)."""
    engine = lm.engine
    return engine.inner if isinstance(engine, CachedEngine) else engine


def time_per_example(run: Callable[[], Any], n: int) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) / n


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())
