"""`--decode scored`: each label's whole token sequence scored by its log-likelihood after the chat
template's assistant prefix; the argmax label is the answer (with `--calibrate`, argmax p / p_cf:
contextual calibration, `smolgepa.lm.readings.scores`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from smolgepa.lm.readings.protocol import Messages
from smolgepa.lm.readings.scores import LabelScores, choose_label


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
