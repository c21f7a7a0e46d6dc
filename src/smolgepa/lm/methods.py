"""Scoring methods: ways to read a label from the embedded student without generating text.

Each method turns the chat messages of one example into `LabelScores` (per-label log-scores,
probabilities and the chosen label). The embedded engine builds one method from its settings
(`build_method`) and calls it under its lock; every method shares the engine's `LabelScorer`,
so consecutive calls reuse the KV cache of their common prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from smolgepa.lm.decode import LabelScores, choose_label

Messages = list[dict[str, str]]


class ScoringMethod(Protocol):
    """A scoring method: messages -> LabelScores (the argmax label and the scores behind it)."""

    def score(self, messages: Messages) -> LabelScores: ...


class DirectMethod:
    """`scored`: log P(label | messages) per label; with a `prior` (content-free calibration) the
    answer is argmax p / p_cf."""

    def __init__(self, scorer: Any, labels: Sequence[str], prior: Callable[[Messages], dict[str, float]] | None = None):
        self.scorer = scorer
        self.labels = tuple(labels)
        self.prior = prior

    def score(self, messages: Messages) -> LabelScores:
        # The prior first, as before this class existed: which prompts are in the KV cache decides how
        # llama.cpp batches the query's prefill, and near-ties can flip with it.
        prior = self.prior(messages) if self.prior else None
        return choose_label(self.scorer.score(messages, self.labels), prior)


def build_method(settings: Any, scorer: Any, prior: Callable[[Messages], dict[str, float]]) -> ScoringMethod:
    """The method `settings.decode` names (scored, channel, knn, ensemble), wrapped in training-split
    calibration when `settings.calibrate` and `settings.calibration == "train"`."""
    labels = settings.labels
    train = tuple(settings.train_examples)
    from_train = settings.calibrate and settings.calibration == "train"
    method: ScoringMethod
    if settings.decode == "scored":
        method = DirectMethod(scorer, labels, prior if settings.calibrate and not from_train else None)
    elif settings.decode == "channel":
        from smolgepa.lm.channel import ChannelMethod

        method = ChannelMethod(scorer, labels)
    elif settings.decode == "knn":
        from smolgepa.lm.knn import KnnMethod

        method = KnnMethod(scorer, labels, train, settings.knn_k)
    elif settings.decode == "ensemble":
        from smolgepa.lm.ensemble import EnsembleMethod

        method = EnsembleMethod(scorer, labels, train, settings.ensemble_k, settings.seed)
    else:
        raise ValueError(f"decode mode {settings.decode!r} is not a scoring method")
    if from_train:
        from smolgepa.lm.train_calibration import TrainCalibrated

        method = TrainCalibrated(method, labels, train)
    return method
