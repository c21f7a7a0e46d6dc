"""Scored decoding through a server: each label's log-likelihood from one or more replies.

`ServerScorer` does for a server student what `smolgepa.lm.scoring.LabelScorer` does in-process:
one scored request (`decode_server.scored_payload`), then, on llama.cpp servers, one forced request
(`decode_server.forced_payload`) per label that could still win, so the chosen label is the argmax
of exact log-likelihoods, as with the embedded student. With calibration every label is scored
exactly and p_cf is computed once per instruction (`decode.calibration_key`) and cached.
The HTTP side (retries, body, headers) stays in the engine: it passes `send(messages, fields)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from smolgepa.lm.decode import CONTENT_FREE_INPUTS, LabelScores, calibration_key
from smolgepa.lm.decode_server import (
    LabelLogprob,
    can_force,
    check_answer,
    decide_scored,
    first_position_estimates,
    forced_logprob,
    forced_payload,
    label_max_tokens,
    logprob_steps,
    no_logprobs_error,
    reply_text,
    score_labels_from_logprobs,
    scored_payload,
    server_content_free_prior,
    uses_json,
)

Messages = list[dict[str, str]]
Send = Callable[[Messages, dict[str, Any]], Mapping[str, Any]]


def server_label_scores(
    send: Send,
    flavour: str,
    messages: Messages,
    labels: Sequence[str],
    *,
    need_all: bool = False,
    where: str = "the server",
) -> tuple[dict[str, LabelLogprob], int]:
    """Every label's log-likelihood after `messages` and the number of requests it took.

    On llama.cpp servers the labels that are not one listed token are forced one at a time, in
    order of their upper bounds, while they could still beat the best exact score (all of them
    with `need_all`, for calibration). Elsewhere the one reply's estimates are returned as they are.
    """
    fields = scored_payload(flavour, labels)
    fields["max_tokens"] = label_max_tokens(labels, uses_json(flavour))
    data = send(messages, fields)
    if not uses_json(flavour):  # the answer was constrained to a label: check the server did that
        check_answer(flavour, reply_text(data), labels, where)
    steps = logprob_steps(data)
    if not steps:
        raise no_logprobs_error(where)
    if not can_force(flavour):
        return score_labels_from_logprobs(steps, labels), 1
    estimates = first_position_estimates(steps, labels)
    requests = 1
    best = max((e.value for e in estimates.values() if e.exact), default=float("-inf"))
    for label in sorted((l for l in labels if not estimates[l].exact), key=lambda l: -estimates[l].value):
        if not need_all and estimates[label].value < best:
            continue  # its upper bound cannot beat an exact score
        reply = send(messages, forced_payload(label))
        requests += 1
        check_answer(flavour, reply_text(reply), [label], where)
        value = forced_logprob(reply, label)
        if value is not None:
            estimates[label] = LabelLogprob(value, True)
            best = max(best, value)
    return estimates, requests


class ServerScorer:
    """Scores label answers for one server student; thread-safe. Priors are cached per instruction."""

    def __init__(
        self,
        send: Send,
        flavour: str,
        labels: Sequence[str],
        *,
        calibrate: bool = False,
        content_free: Sequence[str] = CONTENT_FREE_INPUTS,
        where: str = "the server",
    ) -> None:
        self.send = send
        self.flavour = flavour
        self.labels = tuple(labels)
        self.calibrate = calibrate
        self.content_free = tuple(content_free)
        self.where = where
        self._priors: dict[tuple[Any, ...], dict[str, float]] = {}
        self._prior_lock = threading.Lock()

    def estimates(self, messages: Messages, need_all: bool = False) -> tuple[dict[str, LabelLogprob], int]:
        return server_label_scores(
            self.send, self.flavour, messages, self.labels, need_all=need_all, where=self.where
        )

    def score(self, messages: Messages) -> tuple[LabelScores, dict[str, Any]]:
        """The chosen label (calibrated if set) and provider data, as the embedded engine returns them."""
        estimates, requests = self.estimates(messages, need_all=self.calibrate)
        prior = self.prior_for(messages) if self.calibrate else None
        scores, info = decide_scored(estimates, prior)
        info["requests"] = requests
        return scores, info

    def prior_for(self, messages: Messages) -> dict[str, float]:
        """p_cf under these messages' instruction and demos; computed once per instruction."""
        key = calibration_key(messages, self.labels)
        with self._prior_lock:
            if key not in self._priors:

                def values(probe: Messages) -> dict[str, float]:
                    estimates, _ = self.estimates(probe, need_all=True)
                    return {label: estimate.value for label, estimate in estimates.items()}

                self._priors[key] = server_content_free_prior(values, messages, self.labels, self.content_free)
            return self._priors[key]
