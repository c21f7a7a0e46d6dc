"""Read a run directory for reporting: its summary, its events and the per-example outcomes.

Everything comes through the optimize package's own readers (`RunDir.read_summary`, `read_jsonl`),
so a report reads exactly what `smolgepa show` reads. A run still going, interrupted or killed is
readable too: the summary is rewritten atomically after every iteration.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.diagnostics import Diagnostics, diagnose
from smolgepa.errors import SmolgepaError
from smolgepa.evaluation import NO_LABEL
from smolgepa.optimize.rundir import RunDir, read_jsonl


@dataclass(frozen=True)
class Outcome:
    """One example's recorded result (`input` is filled from the task file when it can be loaded)."""

    id: str
    label: str
    predicted: str | None
    raw: str
    input: str = ""

    @property
    def correct(self) -> bool:
        return self.predicted == self.label


@dataclass(frozen=True)
class Evaluated:
    """One instruction evaluated on validation: the seed (iteration 0) or a proposal."""

    iteration: int
    instruction: str
    tokens: int | None
    status: str  # seed | accepted | rejected
    new_best: bool
    val: dict[str, Any]
    outcomes: tuple[Outcome, ...]
    diagnostics: Diagnostics | None

    @property
    def name(self) -> str:
        return "the seed instruction" if self.iteration == 0 else f"iteration {self.iteration}"


@dataclass(frozen=True)
class RunData:
    """A run directory as read for a report."""

    path: Path
    summary: dict[str, Any]
    events: tuple[dict[str, Any], ...]
    label_descriptions: dict[str, str]
    inputs: dict[str, str]  # example id -> input text, from the task file (empty if it cannot be loaded)

    @property
    def config(self) -> dict[str, Any]:
        return self.summary.get("config") or {}

    @property
    def labels(self) -> list[str]:
        labels = (self.summary.get("task") or {}).get("labels")
        return list(labels) if labels else list(self.label_descriptions)

    @property
    def task_name(self) -> str:
        return (self.summary.get("task") or {}).get("name") or str(self.config.get("task", "?"))

    @property
    def student(self) -> str:
        return str(self.config.get("student", "?"))

    @property
    def status(self) -> str:
        return str(self.summary.get("status", "?"))

    @property
    def seed(self) -> dict[str, Any]:
        return self.summary.get("seed") or {}

    @property
    def best(self) -> dict[str, Any]:
        return self.summary.get("best") or {}

    @property
    def iterations(self) -> list[dict[str, Any]]:
        return list(self.summary.get("iterations") or [])

    @property
    def test(self) -> dict[str, Any]:
        return self.summary.get("test") or {}

    def evaluated(self) -> list[Evaluated]:
        """The seed and every proposal with a validation result, in iteration order."""
        inputs = self.inputs
        found: list[Evaluated] = []
        seed_event = self._first("seed_evaluated")
        if self.seed.get("val"):
            outcomes = _outcomes(seed_event.get("val_examples") if seed_event else None, inputs)
            found.append(self._evaluated(0, self.seed, "seed", False, self.seed["val"], outcomes))
        iteration_events = {e.get("iteration"): e for e in self.events if e.get("event") == "iteration"}
        for record in self.iterations:
            if not record.get("val") or not record.get("text"):
                continue
            event = iteration_events.get(record["iteration"]) or {}
            outcomes = _outcomes(event.get("val_examples"), inputs)
            found.append(self._evaluated(
                record["iteration"], {"instruction": record["text"], "tokens": record.get("tokens")},
                record.get("status") or "?", bool(record.get("new_best")), record["val"], outcomes,
            ))
        return found

    def _evaluated(self, iteration: int, candidate: dict[str, Any], status: str, new_best: bool,
                   val: dict[str, Any], outcomes: tuple[Outcome, ...]) -> Evaluated:
        instruction = candidate.get("instruction") or ""
        diagnostics = None
        if outcomes:
            diagnostics = diagnose(outcomes, self.labels, instruction, self.label_descriptions)
        return Evaluated(iteration, instruction, candidate.get("tokens"), status, new_best, val, outcomes, diagnostics)

    def outcomes(self, which: str, split: str) -> tuple[Outcome, ...]:
        """Per-example outcomes of the seed or best instruction on `val` or `test` (empty if not recorded)."""
        inputs = self.inputs
        if split == "test":
            for event in self.events:
                if event.get("event") == "test_evaluated" and event.get("which") == which:
                    return _outcomes(event.get("examples"), inputs)
            return ()
        index = 0 if which == "seed" else self.best.get("idx", 0)
        if index == 0:
            event = self._first("seed_evaluated")
            return _outcomes(event.get("val_examples") if event else None, inputs)
        for event in self.events:
            if event.get("event") == "iteration" and event.get("candidate_idx") == index:
                return _outcomes(event.get("val_examples"), inputs)
        return ()

    def _first(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("event") == name), None)


def _outcomes(examples: list[dict[str, Any]] | None, inputs: dict[str, str]) -> tuple[Outcome, ...]:
    return tuple(
        Outcome(str(e.get("id")), str(e.get("label")), e.get("predicted"), str(e.get("raw") or ""),
                inputs.get(str(e.get("id")), ""))
        for e in examples or []
    )


def is_run_dir(path: Path) -> bool:
    """A directory an optimization run wrote (it has config.json)."""
    return (path / "config.json").is_file()


def load_run(path: str | Path) -> RunData:
    """Read a run directory, finished or not. Raises SmolgepaError when it has no summary yet."""
    directory = RunDir(path)
    if not directory.path.is_dir():
        raise SmolgepaError(f"{directory.path} does not exist or is not a directory: pass a run or study directory.")
    summary = directory.read_summary()
    events = tuple(read_jsonl(directory.events_file))
    descriptions, inputs = _task_details(summary)
    return RunData(directory.path, summary, events, descriptions, inputs)


def _task_details(summary: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Label descriptions and example inputs from the run's task file, if it can still be loaded."""
    config = summary.get("config") or {}
    labels = (summary.get("task") or {}).get("labels") or []
    try:
        from smolgepa.tasks import load_task

        task = load_task(str(config.get("task")), render=config.get("render"))
    except Exception:  # noqa: BLE001 - a moved task file only costs the input-echo figures
        return {label: "" for label in labels}, {}
    return dict(task.labels), {e.id: e.input for e in task.examples}


def confusion(outcomes: tuple[Outcome, ...] | list[Outcome], labels: list[str]) -> list[list[int]]:
    """counts[gold][predicted] over `labels` rows and `labels + (none)` columns."""
    counts = Counter((o.label, o.predicted or NO_LABEL) for o in outcomes)
    return [[counts.get((gold, predicted), 0) for predicted in [*labels, NO_LABEL]] for gold in labels]


def distribution(outcomes: tuple[Outcome, ...] | list[Outcome], labels: list[str], gold: bool = False) -> list[int]:
    """How often each label (and `(none)`) was predicted, or occurs as gold with `gold=True`."""
    counts = Counter(o.label if gold else (o.predicted or NO_LABEL) for o in outcomes)
    return [counts.get(label, 0) for label in [*labels, NO_LABEL]]
