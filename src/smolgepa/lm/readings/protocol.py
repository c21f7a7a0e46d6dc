"""What a reading asks of a model, and what a reading is.

A reading turns the chat messages of one example into `LabelScores` (per-label log-scores,
probabilities and the chosen label). It asks a model only what `LabelScoring` offers, so the same
reading classes run in-process (`smolgepa.lm.local.label_scorer.LabelScorer`, under the embedded
engine's lock, reusing the KV cache of common prefixes) and on a llama.cpp server
(`smolgepa.lm.servers.server_label_scoring.ServerLabelScoring`). One file per reading beside this
one; an engine builds one from its settings (`smolgepa.lm.readings.build.build_method`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from smolgepa.lm.readings.scores import LabelScores

Messages = list[dict[str, str]]


class LabelScoring(Protocol):
    """What the scoring methods ask of a model. Log-probabilities are the model's own (natural log)."""

    def score(self, messages: Messages, labels: Sequence[str]) -> dict[str, float]:
        """log P(label | messages) for every label, each label's whole token sequence (scored,
        ensemble, train calibration)."""
        ...

    def reply_logprob(self, messages: Messages, given: str, text: str) -> float:
        """log P(text | messages, given): `given + text` as the assistant's reply, only `text` scored (channel)."""
        ...

    def answer_logprobs(self, messages: Messages) -> Any:
        """The next-token log-distribution at the answer position (kNN): a vocabulary-sized
        `np.ndarray`, or a `knn.TopLogprobs` where only the most likely tokens are known."""
        ...


def score_each(scorer: Any, batch: Sequence[Messages], labels: Sequence[str]) -> list[dict[str, float]]:
    """`scorer.score` of every prompt in `batch`: in one go where the scorer can (`score_many`)."""
    many = getattr(scorer, "score_many", None)
    return many(batch, labels) if many else [scorer.score(messages, labels) for messages in batch]


def reply_each(scorer: Any, batch: Sequence[Messages], given: str, text: str) -> list[float]:
    """`scorer.reply_logprob` after every prompt in `batch`: in one go where the scorer can
    (`reply_logprobs`)."""
    many = getattr(scorer, "reply_logprobs", None)
    return many(batch, given, text) if many else [scorer.reply_logprob(m, given, text) for m in batch]


class ScoringMethod(Protocol):
    """A scoring method: messages -> LabelScores (the argmax label and the scores behind it)."""

    def score(self, messages: Messages) -> LabelScores: ...
