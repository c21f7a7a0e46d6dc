"""Out-of-fold label probabilities for a task's labelled examples: the probabilities an audit reads.

Two sources, each answering a training example with a model that never saw its label:
- `reading_probabilities`: a student's reading (`hidden` by default in `data audit`), as `eval --split
  train` answers: the fitted readings answer a training text from the fold fitted without it, and a
  validation text from the fit on the whole training split;
- `tfidf_probabilities`: no language model: a TF-IDF logistic regression with the same folds
  (`lm.readings.linear.FoldedFit`: the same scheme as the `hidden` reading, on words instead of states).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from smolgepa.errors import SmolgepaError
from smolgepa.tasks.model import Example, Task

AUDIT_SPLITS = ("train", "val")
TFIDF_L2 = 0.01
TFIDF_STEPS = 500
FOLDS = 5


@dataclass(frozen=True)
class LabelProbabilities:
    """One row of label probabilities (columns: `names`) per example, with its id, given label and split."""

    source: str
    names: tuple[str, ...]
    ids: tuple[str, ...]
    labels: tuple[str, ...]
    splits: tuple[str, ...]
    probs: np.ndarray

    def __post_init__(self) -> None:
        if self.probs.shape != (len(self.ids), len(self.names)):
            raise ValueError(f"probabilities of shape {self.probs.shape} for {len(self.ids)} examples")


def audited_examples(task: Task, splits: Sequence[str] = AUDIT_SPLITS) -> list[Example]:
    """The labelled examples an audit reads: train then val."""
    examples = [example for split in splits for example in task.split(split)]
    if not task.split("train"):
        raise SmolgepaError(f"Task {task.name!r} has no train examples: an audit fits on the train split. "
                            "Give some examples \"split\": \"train\" in its JSONL file.")
    return examples


def from_rows(source: str, task: Task, examples: Sequence[Example], rows: Sequence[Sequence[float]]) -> LabelProbabilities:
    """LabelProbabilities of `examples` in order, rows normalized to sum to 1."""
    probs = np.clip(np.asarray(rows, dtype=float), 0.0, None)
    totals = probs.sum(axis=1, keepdims=True)
    probs = np.where(totals > 0, probs / np.where(totals > 0, totals, 1.0), 1.0 / len(task.labels))
    return LabelProbabilities(source, tuple(task.labels), tuple(e.id for e in examples),
                              tuple(e.label for e in examples), tuple(e.split for e in examples), probs)


def reading_probabilities(task: Task, answer: Callable[[list[Example]], Sequence[Any]], source: str,
                          splits: Sequence[str] = AUDIT_SPLITS) -> LabelProbabilities:
    """Probabilities from a student's predictions (`evaluation.evaluate.predict` bound to a program and
    LM: `answer(examples)` gives one `Prediction` per example, in order, with `scores`)."""
    examples = audited_examples(task, splits)
    predictions = answer(examples)
    rows = []
    for example, prediction in zip(examples, predictions):
        scores = prediction.scores
        if not scores:
            raise SmolgepaError(
                f"The reading {source!r} gives no label probabilities (example {example.id!r}): an audit needs "
                "them. Use --reading hidden (or probe, knn, scored), which score every label.")
        rows.append([float(scores.get(label) or 0.0) for label in task.labels])
    return from_rows(source, task, examples, rows)


def tfidf_probabilities(task: Task, splits: Sequence[str] = AUDIT_SPLITS, l2: float = TFIDF_L2,
                        steps: int = TFIDF_STEPS, folds: int = FOLDS) -> LabelProbabilities:
    """Probabilities of a TF-IDF logistic regression fitted on the train split, out of fold there."""
    from smolgepa.evaluation.tfidf import TfidfEmbedder
    from smolgepa.lm.readings.linear import FoldedFit, softmax, with_bias

    examples = audited_examples(task, splits)
    train = task.split("train")
    embedder = TfidfEmbedder().fit([e.input for e in examples])  # words only: no label is read here
    x_train = with_bias(embedder([e.input for e in train]).astype(float))
    fit = FoldedFit(x_train, [e.label for e in train], [e.id for e in train], list(task.labels), l2, steps, folds)
    x = with_bias(embedder([e.input for e in examples]).astype(float))
    rows = [softmax(x[i: i + 1] @ (fit.weights_for(e.id) if e.split == "train" else fit.full))[0]
            for i, e in enumerate(examples)]
    return from_rows("tfidf", task, examples, rows)
