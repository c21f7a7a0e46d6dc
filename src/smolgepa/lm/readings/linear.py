"""Multinomial logistic regression by full-batch gradient descent (numpy only): the no-LM baselines
and the `probe` reading fit their weights with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def softmax_regression(x: Any, labels: Sequence[str], names: Sequence[str], l2: float, steps: int) -> Any:
    """Weights (features x classes) of multinomial logistic regression on `x` (last column the bias,
    not penalized), by `steps` of full-batch gradient descent from zero."""
    import numpy as np

    y = np.zeros((len(labels), len(names)))
    for row, label in enumerate(labels):
        y[row, list(names).index(label)] = 1.0
    w = np.zeros((x.shape[1], len(names)))
    penalty = np.ones((x.shape[1], 1))
    penalty[-1] = 0.0  # no penalty on the bias
    rate = 1.0
    for _ in range(steps):
        logits = x @ w
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        gradient = x.T @ (probabilities - y) / len(labels) + l2 * penalty * w
        w -= rate * gradient
    return w


def softmax(logits: Any) -> Any:
    """Row-wise softmax of a (rows x classes) array."""
    import numpy as np

    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


class FoldedFit:
    """Softmax-regression weights fitted on all rows (`full`) and on all folds but one (`folds`), so a
    training row is read by weights that never saw its label (rows are keyed by their text)."""

    def __init__(self, x: Any, labels: Sequence[str], texts: Sequence[str], names: Sequence[str],
                 l2: float, steps: int, folds: int) -> None:
        import numpy as np

        fold = np.arange(len(labels)) % folds
        self.folds = tuple(
            softmax_regression(x[fold != f], [labels[i] for i in np.flatnonzero(fold != f)], names, l2, steps)
            for f in range(folds)
        )
        self.full = softmax_regression(x, labels, names, l2, steps)
        self.fold_of = {text: int(fold[i]) for i, text in enumerate(texts)}

    def weights_for(self, text: str) -> Any:
        """The weights of a fit that never saw `text`'s label (all rows' for a text not among them)."""
        fold = self.fold_of.get(text)
        return self.full if fold is None else self.folds[fold]


def standardizer(rows: Any) -> tuple[Any, Any]:
    """Column means and scales (std, never zero) of `rows`."""
    return rows.mean(axis=0), rows.std(axis=0) + 1e-6


def with_bias(rows: Any) -> Any:
    """`rows` with a column of ones appended (the bias feature softmax_regression leaves unpenalized)."""
    import numpy as np

    return np.hstack([rows, np.ones((len(rows), 1))])


@dataclass(frozen=True)
class StandardizedFit:
    """A `FoldedFit` over standardized feature rows, with that standardization: the read-out the
    `hidden`, `stack` and `hidden-figures` readings fit (one row of features in, label probabilities out)."""

    mean: Any
    scale: Any
    fit: FoldedFit

    def probabilities(self, row: Any, text: str) -> Any:
        """Label probabilities for one feature row, from weights that never saw `text`'s label."""
        import numpy as np

        x = with_bias((np.atleast_2d(row) - self.mean) / self.scale)
        return softmax(x @ self.fit.weights_for(text))[0]


def fit_standardized(rows: Any, labels: Sequence[str], texts: Sequence[str], names: Sequence[str],
                     l2: float, steps: int, folds: int) -> StandardizedFit:
    """Standardize `rows` and fit the folded softmax regression on them (rows keyed by `texts`)."""
    mean, scale = standardizer(rows)
    return StandardizedFit(mean, scale, FoldedFit(with_bias((rows - mean) / scale), labels, texts, names, l2, steps, folds))
