"""Confident learning (Northcutt, Jiang and Chuang 2021, "Confident Learning: Estimating Uncertainty in
Dataset Labels"), in numpy: which given labels out-of-fold probabilities contradict.

- per-label thresholds t_j: the mean probability of label j over the examples labelled j (the label's
  average self-confidence);
- the confident joint C[given][true]: an example counts under the label j with the highest probability
  among those with p_j >= t_j (none: it is not counted);
- C calibrated so that each row sums to that label's count, then normalized into the joint Q;
- prune by noise rate: for each off-diagonal cell (i, j), the round(n * Q[i, j]) examples labelled i with
  the largest margin p_j - p_i are flagged.

The flagged examples are returned most suspect first, by self-confidence (the probability of the given
label, lowest first). `self_confidence_order` is the plain baseline: every example by self-confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Issues:
    """Flagged examples (indices, most suspect first), each one's suggested label index, and the joint."""

    order: tuple[int, ...]
    suggested: tuple[int, ...]  # for every example (not only the flagged): the likeliest other label
    joint: np.ndarray  # calibrated confident joint Q[given, true], summing to 1


def label_indices(labels: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """Each given label as its column in the probability matrix."""
    column = {name: i for i, name in enumerate(names)}
    return np.array([column[label] for label in labels], dtype=int)


def thresholds(probs: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Per-label mean self-confidence; a label nobody carries gets 1 (nothing is confidently it)."""
    return np.array([probs[given == j, j].mean() if np.any(given == j) else 1.0 for j in range(probs.shape[1])])


def confident_joint(probs: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Counts C[given, true] of the examples confidently of a label (see the module docstring), calibrated
    so that row i sums to the number of examples labelled i."""
    k = probs.shape[1]
    above = probs >= thresholds(probs, given)[None, :] - 1e-12
    counts = np.zeros((k, k))
    for i in np.flatnonzero(above.any(axis=1)):
        candidates = np.where(above[i], probs[i], -np.inf)
        counts[given[i], int(np.argmax(candidates))] += 1
    sizes = np.bincount(given, minlength=k).astype(float)
    rows = counts.sum(axis=1, keepdims=True)
    return np.where(rows > 0, counts / np.where(rows > 0, rows, 1.0), 0.0) * sizes[:, None]


def likeliest_other(probs: np.ndarray, given: np.ndarray) -> np.ndarray:
    """For every example, the label with the highest probability other than the given one."""
    masked = probs.copy()
    masked[np.arange(len(given)), given] = -np.inf
    return np.argmax(masked, axis=1)


def find_issues(probs: np.ndarray, given: np.ndarray) -> Issues:
    """Examples whose given label confident learning flags (prune by noise rate), most suspect first."""
    probs = np.asarray(probs, dtype=float)
    n, k = probs.shape
    calibrated = confident_joint(probs, given)
    joint = calibrated / max(calibrated.sum(), 1e-12)
    flagged: set[int] = set()
    for i in range(k):
        members = np.flatnonzero(given == i)
        for j in range(k):
            count = int(round(n * joint[i, j]))
            if i == j or count == 0 or members.size == 0:
                continue
            margin = probs[members, j] - probs[members, i]
            flagged.update(int(m) for m in members[np.argsort(-margin, kind="stable")[:count]])
    confidence = probs[np.arange(n), given]
    order = tuple(sorted(flagged, key=lambda m: (confidence[m], m)))
    return Issues(order, tuple(int(s) for s in likeliest_other(probs, given)), joint)


def self_confidence_order(probs: np.ndarray, given: np.ndarray) -> tuple[int, ...]:
    """Every example, lowest probability of its given label first (the baseline ranking)."""
    confidence = np.asarray(probs, dtype=float)[np.arange(len(given)), given]
    return tuple(int(i) for i in np.argsort(confidence, kind="stable"))


def ranked(issues: Issues, probs: np.ndarray, given: np.ndarray) -> tuple[int, ...]:
    """Every example: the flagged ones first (in their order), then the rest by self-confidence."""
    flagged = set(issues.order)
    return issues.order + tuple(i for i in self_confidence_order(probs, given) if i not in flagged)
