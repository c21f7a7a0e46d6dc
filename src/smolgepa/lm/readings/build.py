"""Scoring methods: ways to read a label from a student without generating text.

Each method turns the chat messages of one example into `LabelScores` (per-label log-scores,
probabilities and the chosen label). It asks a model only what `LabelScoring` offers, so the same
method classes run in-process (`scoring.LabelScorer`, under the embedded engine's lock, reusing the
KV cache of common prefixes) and on a llama.cpp server (`server_methods.ServerLabelScoring`).
An engine builds one method from its settings (`build_method`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from smolgepa.lm.decode import FITTED_MODES, LabelScores, choose_label

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


def build_method(settings: Any, scorer: LabelScoring, prior: Callable[[Messages], dict[str, float]],
                 hidden: Callable[[Messages], Any] | None = None) -> ScoringMethod:
    """The method `settings.decode` names (scored, channel, knn, probe, hidden, ensemble), wrapped in
    training-split calibration when `settings.calibrate` and `settings.calibration == "train"`.
    `hidden` gives a prompt's hidden-state features (`hidden_states.HiddenStates.features`)."""
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
    elif settings.decode == "probe":
        from smolgepa.lm.linear_probe import ProbeMethod

        method = ProbeMethod(scorer, labels, train)
    elif settings.decode == "hidden":
        from smolgepa.lm.hidden_probe import HiddenProbeMethod

        if hidden is None:
            raise ValueError("the hidden reading needs the model's hidden states (the embedded student)")
        method = HiddenProbeMethod(hidden, labels, train)
    elif settings.decode == "ensemble":
        from smolgepa.lm.ensemble import EnsembleMethod

        method = EnsembleMethod(scorer, labels, train, settings.ensemble_k, settings.seed)
    else:
        raise ValueError(f"decode mode {settings.decode!r} is not a scoring method")
    if from_train:
        from smolgepa.lm.train_calibration import TrainCalibrated

        method = TrainCalibrated(method, labels, train)
    return method


def uses_train(settings: Any) -> bool:
    """True when the settings' method reads the training split (knn, ensemble, calibration "train")."""
    return settings.decode in (*FITTED_MODES, "ensemble") or (settings.calibrate and settings.calibration == "train")


def method_key_extras(settings: Any, extras: Mapping[str, Any], optional: Sequence[str] = ()) -> dict[str, Any]:
    """`extras` (settings fields) cut to what decides the method's answers: a setting the method does
    not use is left out, so the cache keys of `free`, `constrained`, `scored` and content-free
    calibration stay what they were before these settings existed; the training examples enter as a
    sha256 digest. `optional` names further fields kept only for the ensemble (a server's `seed`)."""
    dropped = ("calibration", "train_examples", "knn_k", "ensemble_k", *optional)
    kept = {k: v for k, v in extras.items() if k not in dropped}
    if settings.calibrate and settings.calibration != "content-free":
        kept["calibration"] = settings.calibration
    if uses_train(settings):
        kept["train_examples"] = train_digest(settings.train_examples)
    if settings.decode == "knn":
        kept["knn_k"] = settings.knn_k
    if settings.decode == "ensemble":
        kept["ensemble_k"] = settings.ensemble_k
        kept.update({name: extras[name] for name in optional if name in extras})
    return kept


def train_digest(pairs: Sequence[Sequence[str]]) -> str:
    """sha256 of the (text, label) pairs, for cache keys."""
    return hashlib.sha256(json.dumps([list(p) for p in pairs], ensure_ascii=False).encode("utf-8")).hexdigest()
