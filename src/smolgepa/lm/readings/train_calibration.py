"""`--calibrate train`: per-label offsets fitted on the training split's label scores.

Under the current prompt (instruction and demos), every training example is scored by the base
method (scored, channel or ensemble) with its text in place of the input. One offset per label, b,
is then fitted to maximise the training log-likelihood of softmax(s + b), where s are the example's
label log-scores renormalised over the labels (a small L2 penalty keeps b finite when a label is
never right). An answer is argmax softmax(s + b). Written as a prior, p_train = softmax(-b), this is
contextual calibration with a prior fitted on labelled data instead of content-free inputs.
Offsets are computed once per prompt and kept in the engine's `FitMemory`. Three or four numbers need few examples:
the fit uses at most FIT_PER_LABEL training examples of each label (the first in split order), since
scoring a 300-example split under every candidate prompt took minutes with the ensemble.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from smolgepa.lm.readings.scores import LabelScores, argmax, calibration_key, content_free_messages, softmax
from smolgepa.lm.readings.ensemble import normalised
from smolgepa.lm.readings.fit_memory import FitMemory, train_digest

L2 = 1e-2
STEPS = 500
FIT_PER_LABEL = 30


def fit_subset(train: Sequence[tuple[str, str]], per_label: int = FIT_PER_LABEL) -> tuple[tuple[str, str], ...]:
    """At most `per_label` examples of each label, in split order (deterministic)."""
    taken: dict[str, int] = {}
    chosen = []
    for text, label in train:
        if taken.get(label, 0) < per_label:
            taken[label] = taken.get(label, 0) + 1
            chosen.append((text, label))
    return tuple(chosen)


def fit_offsets(scores: np.ndarray, gold: np.ndarray, l2: float = L2, steps: int = STEPS) -> np.ndarray:
    """Offsets b (mean 0) maximising mean log softmax(scores + b)[gold] - l2 * |b|^2.

    `scores`: n x labels normalised log-scores; `gold`: n label indices. Concave, so plain
    gradient ascent with a fixed step converges."""
    n, m = scores.shape
    onehot = np.zeros((n, m))
    onehot[np.arange(n), gold] = 1.0
    b = np.zeros(m)
    for _ in range(steps):
        z = scores + b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        gradient = (onehot - p).mean(axis=0) - 2 * l2 * b
        b += 1.0 * gradient
    return b - b.mean()


class TrainCalibrated:
    """A scoring method whose label scores are shifted by offsets fitted on the training split."""

    def __init__(self, base: Any, labels: Sequence[str], train: Sequence[tuple[str, str]],
                 fits: FitMemory | None = None, name: str = "") -> None:
        self.base = base
        self.labels = tuple(labels)
        self.train = fit_subset(train)
        # the offsets are kept in the engine's fit memory (saved with a run); `name` tells the base apart
        self.fits = fits if fits is not None else FitMemory()
        self.part: tuple[Any, ...] = ("offsets", name or type(base).__name__, self.labels, train_digest(self.train))

    def offsets_for(self, messages: list[dict[str, str]]) -> dict[str, float]:
        """The fitted offsets under these messages' prompt (the training split scored once per prompt)."""
        return self.fits.get((*self.part, calibration_key(messages, self.labels)), lambda: self._fit(messages))

    def _fit(self, messages: list[dict[str, str]]) -> dict[str, float]:
        rows = []
        for text, _ in self.train:
            scores = normalised(self.base.score(content_free_messages(messages, text)).logprobs)
            rows.append([scores[label] for label in self.labels])
        gold = np.array([self.labels.index(label) for _, label in self.train])
        fitted = fit_offsets(np.array(rows), gold)
        return {label: float(value) for label, value in zip(self.labels, fitted)}

    def score(self, messages: list[dict[str, str]]) -> LabelScores:
        offsets = self.offsets_for(messages)
        base = self.base.score(messages)
        shifted = normalised(base.logprobs)
        calibrated = softmax({label: shifted[label] + offsets[label] for label in self.labels})
        prior = softmax({label: -offsets[label] for label in self.labels})
        return LabelScores(argmax(calibrated), dict(base.logprobs), dict(base.probs), calibrated, prior)
