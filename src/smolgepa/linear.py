"""Multinomial logistic regression by full-batch gradient descent (numpy only): the no-LM baselines
and the `probe` reading fit their weights with it."""

from __future__ import annotations

from collections.abc import Sequence
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
