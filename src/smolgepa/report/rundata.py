"""Read a run directory for reporting: its summary, its events and the per-example predictions.

Everything comes through the one reader of run records (smolgepa.runrecord), so a report reads
exactly what `smolgepa show` reads. A run still going, interrupted or killed is readable too: the
summary is rewritten atomically after every iteration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolgepa.evaluation.diagnostics import Diagnostics, diagnose
from smolgepa.errors import SmolgepaError
from smolgepa.evaluation.evaluate import NO_LABEL, Prediction
from smolgepa.runrecord import Candidate, Evaluation, Iteration, RunEvents, RunSummary, read_events, read_summary


@dataclass(frozen=True)
class Evaluated:
    """One instruction evaluated on validation: the seed (iteration 0) or a proposal."""

    iteration: int
    instruction: str
    tokens: int | None
    status: str  # seed | accepted | rejected
    new_best: bool
    val: Evaluation
    predictions: tuple[Prediction, ...]
    diagnostics: Diagnostics | None

    @property
    def name(self) -> str:
        return "the seed instruction" if self.iteration == 0 else f"iteration {self.iteration}"


@dataclass(frozen=True)
class RunData:
    """A run directory as read for a report."""

    path: Path
    summary: RunSummary
    events: RunEvents
    label_descriptions: dict[str, str]

    @property
    def config(self) -> dict[str, Any]:
        return self.summary.config

    @property
    def labels(self) -> list[str]:
        return list(self.summary.task.labels) or list(self.label_descriptions)

    @property
    def task_name(self) -> str:
        return self.summary.task_name

    @property
    def student(self) -> str:
        return self.summary.student

    @property
    def status(self) -> str:
        return self.summary.status

    @property
    def seed(self) -> Candidate | None:
        return self.summary.seed

    @property
    def best(self) -> Candidate | None:
        return self.summary.best

    @property
    def iterations(self) -> tuple[Iteration, ...]:
        return self.summary.iterations

    @property
    def test(self) -> dict[str, Evaluation]:
        return self.summary.test

    def evaluated(self) -> list[Evaluated]:
        """The seed and every proposal with a validation result, in iteration order."""
        found: list[Evaluated] = []
        seed = self.seed
        if seed is not None and seed.val:
            predictions = self.events.seed.val_examples if self.events.seed else ()
            found.append(self._evaluated(0, seed.instruction, seed.tokens, "seed", False, seed.val, predictions))
        for record in self.iterations:
            if not record.val or not record.text:
                continue
            event = self.events.iteration(record.iteration)
            found.append(self._evaluated(record.iteration, record.text, record.tokens, record.status or "?",
                                         record.new_best, record.val, event.val_examples if event else ()))
        return found

    def _evaluated(self, iteration: int, instruction: str, tokens: int | None, status: str, new_best: bool,
                   val: Evaluation, predictions: tuple[Prediction, ...]) -> Evaluated:
        diagnostics = None
        if predictions:
            diagnostics = diagnose(predictions, self.labels, instruction, self.label_descriptions)
        return Evaluated(iteration, instruction, tokens, status, new_best, val, predictions, diagnostics)

    def predictions(self, which: str, split: str) -> tuple[Prediction, ...]:
        """Per-example predictions of the seed or best instruction on `val` or `test` (empty if not recorded)."""
        if split == "test":
            test = self.events.tests.get(which)
            return test.examples if test else ()
        index = 0 if which == "seed" or self.best is None else self.best.idx
        if index == 0:
            return self.events.seed.val_examples if self.events.seed else ()
        event = self.events.of_candidate(index)
        return event.val_examples if event else ()


def is_run_dir(path: Path) -> bool:
    """A directory an optimization run wrote (it has config.json)."""
    return (path / "config.json").is_file()


def load_run(path: str | Path) -> RunData:
    """Read a run directory, finished or not. Raises SmolgepaError when it has no summary yet."""
    directory = Path(path)
    if not directory.is_dir():
        raise SmolgepaError(f"{directory} does not exist or is not a directory: pass a run or study directory.")
    summary = read_summary(directory)
    descriptions, inputs = _task_details(summary)
    return RunData(directory, summary, read_events(directory, inputs), descriptions)


def _task_details(summary: RunSummary) -> tuple[dict[str, str], dict[str, str]]:
    """Label descriptions and example inputs from the run's task file, if it can still be loaded."""
    config = summary.config
    try:
        from smolgepa.tasks import load_task

        task = load_task(str(config.get("task")), render=config.get("render"))
    except Exception:  # noqa: BLE001 - a moved task file only costs the input-echo figures
        return {label: "" for label in summary.task.labels}, {}
    return dict(task.labels), {e.id: e.input for e in task.examples}


def confusion(predictions: Sequence[Prediction], labels: list[str]) -> list[list[int]]:
    """counts[gold][predicted] over `labels` rows and `labels + (none)` columns."""
    counts = Counter((p.label, p.predicted or NO_LABEL) for p in predictions)
    return [[counts.get((gold, predicted), 0) for predicted in [*labels, NO_LABEL]] for gold in labels]


def distribution(predictions: Sequence[Prediction], labels: list[str], gold: bool = False) -> list[int]:
    """How often each label (and `(none)`) was predicted, or occurs as gold with `gold=True`."""
    counts = Counter(p.label if gold else (p.predicted or NO_LABEL) for p in predictions)
    return [counts.get(label, 0) for label in [*labels, NO_LABEL]]
