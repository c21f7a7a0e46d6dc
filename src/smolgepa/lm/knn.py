"""`--decode knn`: kNN prompting (Xu et al. 2023, "kNN Prompting: Beyond-Context Learning with
Calibration-Free Nearest Neighbor Inference").

Each training example becomes an anchor: the model's next-token distribution at the answer position
under the current prompt (the same messages, with the example's text in place of the input). A
query's distribution is compared with every anchor by KL(anchor || query) over the whole vocabulary,
and the k nearest anchors vote; a tied vote goes to the tied label whose nearest anchor is closest.
Anchors are computed once per prompt (instruction, demos, prefix, cue) and kept in memory.
Leave-one-out: an anchor whose text is the query's own text is skipped, so scoring the training
split does not read its own label.

Scores: `probs` are the vote shares of the k neighbours, `logprobs` their logs (-inf: no vote).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from smolgepa.lm.decode import LabelScores, calibration_key, content_free_messages
from smolgepa.lm.turns import input_text, same_text


@dataclass(frozen=True)
class Anchors:
    """The training examples' distributions under one prompt: texts, labels, probs and log-probs (n x vocab)."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    probs: np.ndarray
    logprobs: np.ndarray


def kl_to_query(anchors: Anchors, query_logprobs: np.ndarray) -> np.ndarray:
    """KL(anchor || query) for every anchor (nats)."""
    return (anchors.probs * (anchors.logprobs - query_logprobs[None, :])).sum(axis=1)


def vote(labels: Sequence[str], neighbour_labels: Sequence[str], distances: Sequence[float]) -> tuple[str, dict[str, int]]:
    """The majority label among the neighbours (given nearest first) and the counts; a tie goes to
    the tied label with the nearest neighbour."""
    counts = {label: 0 for label in labels}
    nearest: dict[str, float] = {}
    for label, distance in zip(neighbour_labels, distances):
        counts[label] += 1
        nearest.setdefault(label, float(distance))
    top = max(counts.values())
    tied = [label for label in labels if counts[label] == top]
    return min(tied, key=lambda label: nearest.get(label, math.inf)), counts


class KnnMethod:
    """The vote of the k training anchors nearest the query (see the module docstring)."""

    def __init__(self, scorer: Any, labels: Sequence[str], train: Sequence[tuple[str, str]], k: int) -> None:
        self.scorer = scorer
        self.labels = tuple(labels)
        self.train = tuple(train)
        self.k = k
        self.forward_calls = 0  # model evaluations (anchors and queries), for tests and timing
        self._anchors: dict[tuple[Any, ...], Anchors] = {}

    def anchors_for(self, messages: list[dict[str, str]]) -> Anchors:
        """The anchors under these messages' prompt; computed on first use, then cached."""
        key = calibration_key(messages, self.labels)
        if key not in self._anchors:
            rows = []
            for text, _ in self.train:
                rows.append(self._distribution(content_free_messages(messages, text)))
            logprobs = np.stack(rows)
            self._anchors[key] = Anchors(
                tuple(same_text(text) for text, _ in self.train),
                tuple(label for _, label in self.train),
                np.exp(logprobs),
                logprobs,
            )
        return self._anchors[key]

    def _distribution(self, messages: list[dict[str, str]]) -> np.ndarray:
        self.forward_calls += 1
        return self.scorer.answer_logprobs(messages)

    def neighbours(self, messages: list[dict[str, str]]) -> tuple[list[int], np.ndarray]:
        """Indices of the k nearest anchors (nearest first, the query's own text left out) and all distances."""
        anchors = self.anchors_for(messages)
        distances = kl_to_query(anchors, self._distribution(messages))
        own = input_text(messages)
        order = [int(i) for i in np.argsort(distances, kind="stable") if anchors.texts[int(i)] != own]
        return order[: self.k], distances

    def score(self, messages: list[dict[str, str]]) -> LabelScores:
        anchors = self.anchors_for(messages)
        chosen, distances = self.neighbours(messages)
        label, counts = vote(self.labels, [anchors.labels[i] for i in chosen], [distances[i] for i in chosen])
        total = sum(counts.values()) or 1
        probs = {name: counts[name] / total for name in self.labels}
        logprobs = {name: math.log(p) if p > 0 else -math.inf for name, p in probs.items()}
        return LabelScores(label, logprobs, probs)
